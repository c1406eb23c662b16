//! `streamia-import`: moves a `mongoexport` dump of the old Node/MongoDB
//! system into a running Streamia, through its admin-only import routes.
//!
//!   streamia-import DUMP_DIR --dry-run
//!   streamia-import DUMP_DIR --url https://streamia.example --email admin@… --password …
//!   streamia-import generate DIR [--users N] [--movies N] [--ratings N] [--comments N]
//!
//! The admin's password may come from STREAMIA_ADMIN_PASSWORD instead, and a
//! token from STREAMIA_ADMIN_TOKEN. A run records the batches the app
//! confirmed in DUMP_DIR/.streamia-import-progress: run again after an
//! interruption and it goes on from there (a batch sent twice changes
//! nothing either way).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use streamia_import::{generate, plan};

const BATCH_ROWS: usize = 500;
/// Under the gateway's 1 MiB body limit with room to spare.
const BATCH_BYTES: usize = 800 * 1024;
const PROGRESS_FILE: &str = ".streamia-import-progress";
const ID_MAP_FILE: &str = "streamia-id-map.csv";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") => generate_command(&args[1..]),
        Some("-h" | "--help") | None => {
            eprintln!("{}", USAGE);
            return ExitCode::from(2);
        }
        Some(_) => import_command(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage:
  streamia-import DUMP_DIR --dry-run
  streamia-import DUMP_DIR --url URL (--email EMAIL [--password P] | --token TOKEN)
  streamia-import generate DIR [--users N] [--movies N] [--ratings N] [--comments N] [--seed N]
DUMP_DIR holds mongoexport's users.json, movies.json, favorites.json, ratings.json, comments.json.";

/// `--name value` from the arguments.
fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn number(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    match option(args, name) {
        Some(v) => v.parse().map_err(|_| format!("{name}: {v:?} is not a number")),
        None => Ok(default),
    }
}

fn generate_command(args: &[String]) -> Result<(), String> {
    let dir = args.first().ok_or(USAGE)?;
    let size = generate::Size {
        users: number(args, "--users", 10_000)?,
        movies: number(args, "--movies", 2_000)?,
        ratings: number(args, "--ratings", 100_000)?,
        comments: number(args, "--comments", 50_000)?,
    };
    let started = Instant::now();
    generate::write(Path::new(dir), size, number(args, "--seed", 42)? as u64).map_err(|e| format!("{dir}: {e}"))?;
    eprintln!(
        "wrote a dump of {size:?} to {dir} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn current_year() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    streamia_movies::domain::year_of(now)
}

fn import_command(args: &[String]) -> Result<(), String> {
    let dir = PathBuf::from(&args[0]);
    let dry_run = args.iter().any(|a| a == "--dry-run");
    let started = Instant::now();
    let plan = plan::read(&dir, current_year()).map_err(|e| e.to_string())?;
    let rows: usize = plan.kinds.iter().map(|k| k.rows.len()).sum();
    println!("{}", plan.report);
    if dry_run {
        println!(
            "dry run: {rows} rows would be sent in {:.1} s of reading; nothing written",
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let url = option(args, "--url").ok_or("--url is required (or --dry-run)")?;
    let mut client = Client::new(url.trim_end_matches('/'), args)?;
    let progress_path = dir.join(PROGRESS_FILE);
    let mut done: HashSet<String> = std::fs::read_to_string(&progress_path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let resumed = done.len();
    let mut progress = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&progress_path)
        .map_err(|e| format!("{}: {e}", progress_path.display()))?;
    let (mut written, mut unchanged, mut sent) = (0usize, 0usize, 0usize);
    for kind in &plan.kinds {
        let batches = plan::batches(&kind.rows, BATCH_ROWS, BATCH_BYTES);
        for (i, batch) in batches.iter().enumerate() {
            let body = json!({"rows": batch}).to_string();
            let key = format!("{} {i} {:x}", kind.kind, Sha256::digest(body.as_bytes()));
            sent += batch.len();
            if !done.contains(&key) {
                let reply = client.send(kind.kind, &body)?;
                written += reply["written"].as_u64().unwrap_or(0) as usize;
                unchanged += reply["unchanged"].as_u64().unwrap_or(0) as usize;
                writeln!(progress, "{key}").map_err(|e| format!("{}: {e}", progress_path.display()))?;
                done.insert(key);
            }
            eprint!(
                "\r{:<16} batch {:>4}/{:<4} {:>7}/{} rows {:>3} %",
                kind.kind,
                i + 1,
                batches.len(),
                sent,
                rows,
                sent * 100 / rows.max(1)
            );
        }
    }
    eprintln!();
    write_id_map(&dir, &plan)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "imported: {written} rows written, {unchanged} already there{}; {rows} rows in {seconds:.1} s ({:.0} rows/s); ids in {}",
        if resumed > 0 { format!(" ({resumed} batches done before, skipped)") } else { String::new() },
        rows as f64 / seconds.max(0.001),
        dir.join(ID_MAP_FILE).display()
    );
    Ok(())
}

/// The mapping table: each old ObjectId and the id it has now.
fn write_id_map(dir: &Path, plan: &plan::Plan) -> Result<(), String> {
    let path = dir.join(ID_MAP_FILE);
    let mut out = String::from("collection,object_id,id\n");
    for (collection, oid, id) in &plan.ids {
        out.push_str(&format!("{collection},{oid},{id}\n"));
    }
    std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))
}

/// The app's import routes, as an admin.
struct Client {
    base: String,
    agent: ureq::Agent,
    token: String,
    login: Option<(String, String)>,
}

impl Client {
    fn new(base: &str, args: &[String]) -> Result<Self, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let mut client = Client {
            base: base.to_owned(),
            agent,
            token: String::new(),
            login: None,
        };
        if let Some(token) = option(args, "--token").or_else(|| std::env::var("STREAMIA_ADMIN_TOKEN").ok()) {
            client.token = token;
            return Ok(client);
        }
        let email = option(args, "--email").ok_or("--email (an admin's) or --token is required")?;
        let password = option(args, "--password")
            .or_else(|| std::env::var("STREAMIA_ADMIN_PASSWORD").ok())
            .ok_or("--password or STREAMIA_ADMIN_PASSWORD is required with --email")?;
        client.login = Some((email, password));
        client.sign_in()?;
        Ok(client)
    }

    fn post(&self, path: &str, body: &str, token: Option<&str>) -> Result<(u16, Option<u64>, Value), String> {
        let mut req = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = req.body(body.as_bytes().to_vec()).map_err(|e| e.to_string())?;
        let mut resp = self.agent.run(req).map_err(|e| format!("{}{path}: {e}", self.base))?;
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Ok((
            resp.status().as_u16(),
            retry_after,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        ))
    }

    /// An access token lasts 15 minutes: a long import signs in again.
    fn sign_in(&mut self) -> Result<(), String> {
        let (email, password) = self.login.clone().ok_or("the token was refused (401)")?;
        let body = json!({"email": email, "password": password}).to_string();
        let (status, _, reply) = self.post("/api/users/login", &body, None)?;
        match (status, reply["accessToken"].as_str()) {
            (200, Some(token)) => {
                self.token = token.to_owned();
                Ok(())
            }
            _ => Err(format!("signing in as {email}: {status} {reply}")),
        }
    }

    /// One batch; a refusal that says to come back (429, 503) is retried
    /// after its Retry-After, an expired token renewed.
    fn send(&mut self, kind: &str, body: &str) -> Result<Value, String> {
        let path = format!("/api/admin/import/{kind}");
        for attempt in 0..20 {
            let (status, retry_after, reply) = self.post(&path, body, Some(&self.token.clone()))?;
            match status {
                200 => return Ok(reply),
                401 if attempt == 0 && self.login.is_some() => self.sign_in()?,
                429 | 503 => std::thread::sleep(Duration::from_secs(retry_after.unwrap_or(1).clamp(1, 30))),
                _ => return Err(format!("{kind}: the app answered {status}: {reply}")),
            }
        }
        Err(format!("{kind}: the app kept refusing (429/503); try again later"))
    }
}
