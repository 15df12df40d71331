//! Small closed sets the store records as text.

/// How a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Scheduled,
    Manual,
    Replay,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Scheduled => "scheduled",
            RunKind::Manual => "manual",
            RunKind::Replay => "replay",
        }
    }

    /// The kind stored as `s`; `None` for text no s321d wrote.
    pub fn parse(s: &str) -> Option<RunKind> {
        [RunKind::Scheduled, RunKind::Manual, RunKind::Replay]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a run is (`runs.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Started; its outputs are not published yet.
    Running,
    /// Outputs published; its files not yet moved out of the inbox.
    Evaluated,
    /// Outputs published and its files moved.
    Succeeded,
    /// Recovery split its files into a new run (some came back, some did not).
    Split,
    /// Recovery gave it up (none of its files came back).
    Abandoned,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Evaluated => "evaluated",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Split => "split",
            RunStatus::Abandoned => "abandoned",
        }
    }

    /// The status stored as `s`; `None` for text no s321d wrote.
    pub fn parse(s: &str) -> Option<RunStatus> {
        [
            RunStatus::Running,
            RunStatus::Evaluated,
            RunStatus::Succeeded,
            RunStatus::Split,
            RunStatus::Abandoned,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether the run published its outputs.
    pub fn published(self) -> bool {
        matches!(self, RunStatus::Evaluated | RunStatus::Succeeded)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a run owes after it is evaluated (`run_duties.duty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duty {
    /// Its entries are to be filed with ACE.
    Filing,
    /// Its exception reports are to be queued.
    Exceptions,
}

impl Duty {
    pub const ALL: [Duty; 2] = [Duty::Filing, Duty::Exceptions];

    pub fn as_str(self) -> &'static str {
        match self {
            Duty::Filing => "filing",
            Duty::Exceptions => "exceptions",
        }
    }

    pub fn parse(s: &str) -> Option<Duty> {
        Duty::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// Where a run's duty stands (`run_duties.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DutyState {
    /// Still owed: a stop before it is done leaves it for the next call.
    Due,
    Done,
    /// Not owed (exception reports switched off, a run split into others).
    Off,
}

impl DutyState {
    pub const ALL: [DutyState; 3] = [DutyState::Due, DutyState::Done, DutyState::Off];

    pub fn as_str(self) -> &'static str {
        match self {
            DutyState::Due => "due",
            DutyState::Done => "done",
            DutyState::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<DutyState> {
        DutyState::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// A position the daemon keeps in a feed it reads (`cursors.name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cursor {
    /// ACE HTTP notifications read so far.
    HttpNotifications,
}

impl Cursor {
    pub const ALL: [Cursor; 1] = [Cursor::HttpNotifications];

    pub fn as_str(self) -> &'static str {
        match self {
            Cursor::HttpNotifications => "http_notifications",
        }
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        Cursor::ALL.into_iter().find(|c| c.as_str() == s)
    }
}
