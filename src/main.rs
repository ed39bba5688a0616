fn main() -> std::process::ExitCode {
    usher::cli::run()
}
