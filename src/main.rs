use std::process::ExitCode;

fn main() -> ExitCode {
    estune::cli::main()
}
