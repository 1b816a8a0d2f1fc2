//! The `lguest-sim` command: the same core as the browser, natively.
fn main() {
    std::process::exit(lguest_sim_cli::main(std::env::args().skip(1).collect()));
}

mod lguest_sim_cli {
    pub fn main(args: Vec<String>) -> i32 {
        match args.first().map(String::as_str) {
            Some("--version") => {
                println!("lguest-sim {}", env!("CARGO_PKG_VERSION"));
                0
            }
            _ => {
                eprintln!("usage: lguest-sim --version");
                2
            }
        }
    }
}
