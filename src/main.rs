use clap::Parser;
use tandem::cli::{self, Cli};

fn init_logging(data_dir: &std::path::Path) {
    // tracing goes to a file in the data dir, never to the terminal
    if std::fs::create_dir_all(data_dir).is_err() {
        return;
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("tandem.log"))
    else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TANDEM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}

fn main() {
    one_malloc_arena();
    let cli = Cli::parse();
    if let Some(cmd) = &cli.cmd {
        if !cmd.drives_a_run() {
            // `tandem ls | head` ends quietly, as any Unix tool does, instead of panicking on the
            // closed pipe (Rust ignores SIGPIPE); a command that drives a run writes through
            // `emit!`, which never fails, so its run goes on
            default_sigpipe();
        }
    }
    let code = match cli.cmd {
        // the supervisor of a local phase's process: nothing else in this process
        Some(cli::Cmd::Tool(cli::tool::Tool::Supervise { exit, command })) => {
            tandem::pipeline::runner::supervise_exec(&exit, &command)
        }
        // what a listing costs the TUI: the Datasets view's own update path
        Some(cli::Cmd::Tool(cli::tool::Tool::BenchListing { keys })) => {
            let r = tandem::app::bench::listing(keys);
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            0
        }
        // the tools are the phases' own processes: no journal
        Some(cli::Cmd::Tool(t)) => {
            finish(tokio_rt().block_on(cli::run_cmd(cli::Cmd::Tool(t), &cli.global)))
        }
        Some(cmd) => {
            let ws = cli.global.workspace();
            init_logging(&ws.data_dir);
            finish(tokio_rt().block_on(cli::run_cmd(cmd, &cli.global)))
        }
        None => {
            let ws = cli.global.workspace();
            init_logging(&ws.data_dir);
            let file = tandem::project::locate(cli.project.as_deref());
            let project = tandem::project::load(&file);
            if let Err(e) = &project {
                tracing::warn!("{e}");
            }
            let opts = tandem::app::Options {
                project,
                target: cli.target,
                theme: cli.theme,
                workspace: ws,
                s3: cli.global.s3(),
                first_frame_only: cli.first_frame,
                log_lines: cli.log_lines,
                graphics: cli.graphics,
            };
            match tokio_rt().block_on(tandem::app::run(opts)) {
                Ok(()) => 0,
                Err(e) => {
                    tandem::tui::restore();
                    eprintln!("tandem: {e:#}");
                    1
                }
            }
        }
    };
    std::process::exit(code);
}

fn default_sigpipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: at the start of main, before any thread exists; the default action installs no
    // handler code
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// One glibc malloc arena for every thread (unless MALLOC_ARENA_MAX says otherwise). Log lines are
/// made on the runtime's worker threads and freed on the UI thread; with an arena per thread, the
/// memory they leave behind is pinned in each worker's arena, and peak RSS following a 50 MB/s
/// log varied from 44 to 68 MiB with which thread read what. With one arena it stays at 46 MiB
/// (`scripts/bench-logs.sh 590000 20`, three runs each), and the few threads here barely contend.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called before any thread starts
        unsafe {
            nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
        }
    }
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn finish(r: Result<(), cli::Failure>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            if !e.msg.is_empty() {
                eprintln!("tandem: {}", e.msg);
            }
            e.code
        }
    }
}
