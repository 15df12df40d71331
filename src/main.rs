//! The `s321d` binary: everything lives in the library; see `commands::main`.

// polars allocates and frees large buffers from several threads; glibc hands
// them back to the kernel and faults them in again, which costs more system
// time than the work itself. jemalloc keeps them (polars uses it for the same
// reason).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    s321d::commands::main()
}
