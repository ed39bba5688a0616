/// mimalloc gives memory back to the system soon after a spike of load ends (argon2 alone
/// takes 19 MiB per sign-in); glibc's allocator kept most of it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    usher::app::cli::run()
}
