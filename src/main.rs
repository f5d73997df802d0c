use std::process::ExitCode;

// The load engine allocates per row and per operation from many tasks;
// glibc's allocator spent a sixth of the client's CPU in malloc/free under
// a closed-loop run (perf), mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    estune::cli::main()
}
