//! Fuzz regressions (issue 11): every input the fuzzers kept as interesting
//! (fuzz/corpus/) or that once crashed a parser runs through that parser again.
