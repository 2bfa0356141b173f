fn main() -> std::process::ExitCode {
    seed::main()
}
