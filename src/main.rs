fn main() -> std::process::ExitCode {
    usher::app::cli::run()
}
