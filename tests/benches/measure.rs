//! Running a child process with a timeout, measuring its wall time and peak RSS.
//!
//! Peak RSS comes from GNU time (`/usr/bin/time -f "%e %M"`, Debian package `time`), which reads
//! the child's `ru_maxrss` from `wait4`: exact, and it covers the child's own children. Without it,
//! `/proc/<pid>/status` `VmHWM` is polled every 2 ms (it misses growth in the last moments of a run,
//! and the children of the child). Wall time is always measured here, by a thread blocked in `wait`.

use std::ffi::OsString;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One measured run.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Seconds.
    pub wall: f64,
    /// Peak resident set size in bytes, when known.
    pub rss: Option<u64>,
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// It ended with an accepted exit code.
    Ok(Sample),
    /// It was killed after this many seconds.
    Timeout(f64),
    /// It failed (message with the end of its stderr).
    Failed(String),
}

/// A command to run.
pub struct Job<'a> {
    /// Program.
    pub program: &'a Path,
    /// Arguments.
    pub args: Vec<OsString>,
    /// Extra environment (`CI` is always removed first, so only a job that sets it runs in CI mode).
    pub env: Vec<(&'a str, &'a str)>,
    /// Working directory (an empty one: no `.dive-ci` or `.layerscope-ci.yaml` is picked up).
    pub cwd: &'a Path,
    /// Exit codes that count as success.
    pub ok_codes: &'a [i32],
    /// Kill the process group after this long.
    pub timeout: Duration,
}

/// Runs jobs; knows how peak RSS is measured on this machine.
pub struct Runner {
    time: Option<PathBuf>,
    scratch: PathBuf,
}

impl Runner {
    /// A runner writing its scratch files (GNU time output, stderr) in `scratch`.
    pub fn new(scratch: &Path) -> Runner {
        let time = PathBuf::from("/usr/bin/time");
        let probe = scratch.join("time-probe");
        let works = Command::new(&time)
            .args(["-f", "%e %M", "-o"])
            .arg(&probe)
            .arg("true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            && fs::read_to_string(&probe).is_ok_and(|t| parse_time_output(&t).is_some());
        Runner { time: works.then_some(time), scratch: scratch.to_path_buf() }
    }

    /// How peak RSS is measured.
    pub fn rss_method(&self) -> &'static str {
        if self.time.is_some() {
            "GNU time (ru_maxrss)"
        } else {
            "polling /proc/PID/status VmHWM (install Debian package `time` for exact figures)"
        }
    }

    /// Run `job` once.
    pub fn run(&self, job: &Job) -> Outcome {
        match self.try_run(job) {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failed(format!("cannot run {}: {e}", job.program.display())),
        }
    }

    fn try_run(&self, job: &Job) -> std::io::Result<Outcome> {
        let stats = self.scratch.join("time.out");
        let stderr_path = self.scratch.join("stderr.txt");
        let _ = fs::remove_file(&stats);
        let mut cmd = match &self.time {
            Some(time) => {
                let mut c = Command::new(time);
                c.args(["-f", "%e %M", "-o"]).arg(&stats).arg(job.program);
                c
            }
            None => Command::new(job.program),
        };
        cmd.args(&job.args)
            .current_dir(job.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr_path)?)
            .env_remove("CI")
            .process_group(0);
        for (k, v) in &job.env {
            cmd.env(k, v);
        }
        let start = Instant::now();
        let mut child = cmd.spawn()?;
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = tx.send((status, start.elapsed()));
        });
        let deadline = start + job.timeout;
        let mut hwm = None;
        let received = loop {
            let wait = if self.time.is_some() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                if let Some(v) = vm_hwm(pid) {
                    hwm = Some(v);
                }
                Duration::from_millis(2).min(deadline.saturating_duration_since(Instant::now()))
            };
            match rx.recv_timeout(wait) {
                Ok(r) => break Some(r),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => break None,
            }
        };
        let Some((status, elapsed)) = received else {
            kill_group(pid);
            let _ = waiter.join();
            return Ok(Outcome::Timeout(start.elapsed().as_secs_f64()));
        };
        let _ = waiter.join();
        let status = status?;
        let code = status.code().unwrap_or(-1);
        if !job.ok_codes.contains(&code) {
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            let tail: Vec<&str> = stderr.lines().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect();
            return Ok(Outcome::Failed(format!("exit status {code}: {}", tail.join(" / "))));
        }
        let rss = match &self.time {
            Some(_) => fs::read_to_string(&stats).ok().and_then(|t| parse_time_output(&t)).map(|(_, kib)| kib * 1024),
            None => hwm,
        };
        Ok(Outcome::Ok(Sample { wall: elapsed.as_secs_f64(), rss }))
    }
}

/// The last line of GNU time's `-o` file, `"%e %M"` (GNU time writes a "Command exited with
/// non-zero status" line before it when the child fails).
fn parse_time_output(text: &str) -> Option<(f64, u64)> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut parts = line.split_whitespace();
    let secs = parts.next()?.parse().ok()?;
    let kib = parts.next()?.parse().ok()?;
    Some((secs, kib))
}

/// `VmHWM` of a live process, in bytes.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// SIGKILL the process group `pgid` (the child was started as a group leader, so its own children,
/// e.g. the program GNU time runs, die with it).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
