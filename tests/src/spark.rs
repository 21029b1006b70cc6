//! Running PySpark jobs in tests: the `tusk` Python package built from `python/`
//! with maturin, PySpark from `.cache/spark` (`scripts/install-pyspark`), and a
//! job script run as its own process group, so a test can kill the driver and its
//! JVM together and nothing outlives the test.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{installed_python_dir, repo_root};

/// Where scripts/install-pyspark put PySpark, pyarrow and maturin; panics saying
/// how to install them when they are not there.
pub fn spark_dir() -> PathBuf {
    installed_python_dir(
        "TUSK_SPARK_DIR",
        "spark",
        ".tusk-installed-pyspark",
        "install-pyspark",
    )
}

/// Builds the `tusk` wheel from `python/` with maturin (dev profile, sharing the
/// workspace's target directory) and installs it into `target/tusk-python/site`;
/// returns that directory. Test processes take turns through a lock file, so
/// concurrent tests build it once each, one after the other (the second build
/// finds nothing to compile).
pub fn python_package() -> PathBuf {
    let root = repo_root();
    let base = root.join("target/tusk-python");
    std::fs::create_dir_all(&base).expect("create target/tusk-python");
    let lock = File::create(base.join(".lock")).expect("create the build lock");
    lock.lock().expect("take the build lock");
    let wheels = base.join("wheels");
    let site = base.join("site");
    let _ = std::fs::remove_dir_all(&wheels);
    let maturin = spark_dir().join("bin/maturin");
    let out = Command::new(&maturin)
        .args(["build", "--profile", "dev", "--quiet", "--out"])
        .arg(&wheels)
        .current_dir(root.join("python"))
        .env("PYTHONPATH", spark_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{} cannot start: {e}", maturin.display()));
    assert!(
        out.status.success(),
        "maturin build failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let wheel = std::fs::read_dir(&wheels)
        .expect("maturin wrote its wheel directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .expect("maturin built a wheel");
    let _ = std::fs::remove_dir_all(&site);
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--root-user-action=ignore",
            "--no-deps",
            "--target",
        ])
        .arg(&site)
        .arg(&wheel)
        .stdin(Stdio::null())
        .output()
        .expect("pip runs");
    assert!(
        out.status.success(),
        "pip install {} failed:\n{}",
        wheel.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    site
}

/// What a finished job left: its exit status and what it printed.
#[derive(Debug)]
pub struct JobOutput {
    /// How the driver exited (a signal when it was killed).
    pub status: ExitStatus,
    /// Its stdout and stderr (Spark's log lines included).
    pub log: String,
}

/// Runs `tests/spark/jobs.py ARGS` with the package at `site` and PySpark on the
/// path, plus `env`, in a process group of its own with a fresh temporary
/// directory under `dir`. Kills the whole group (driver and JVM) after `timeout`
/// and panics; otherwise returns once the driver exits and kills whatever of the
/// group is left.
pub fn run_job(
    site: &Path,
    dir: &Path,
    args: &[&str],
    env: &[(String, String)],
    timeout: Duration,
) -> JobOutput {
    let log_path = dir.join(format!("{}.log", args.first().copied().unwrap_or("job")));
    let log = File::create(&log_path).expect("create the job log");
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).expect("create the job's temporary directory");
    let python_path = std::env::join_paths([site.to_path_buf(), spark_dir()])
        .expect("paths join into PYTHONPATH");
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("tests/spark/jobs.py"))
        .args(args)
        .env("PYTHONPATH", python_path)
        .env("PYTHONNOUSERSITE", "1")
        .env("PYSPARK_PYTHON", "python3")
        .env("TMPDIR", &tmp)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env_remove("SPARK_HOME")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log handle"))
        .stderr(log)
        .process_group(0);
    let mut child = cmd.spawn().expect("python3 starts");
    let group = i32::try_from(child.id()).expect("pids fit in i32");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the job") {
            break status;
        }
        if Instant::now() > deadline {
            kill_group(group);
            let _ = child.wait();
            panic!(
                "the Spark job {args:?} ran past {timeout:?}; log:\n{}",
                tail(&std::fs::read_to_string(&log_path).unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The JVM leaves with its driver; make sure of it.
    kill_group(group);
    JobOutput {
        status,
        log: std::fs::read_to_string(&log_path).unwrap_or_default(),
    }
}

/// SIGKILL to every process of group `group` (none left is fine).
fn kill_group(group: i32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
}

/// The last 80 lines of `log`, for panic messages.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}
