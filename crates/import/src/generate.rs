//! A dump in the monolith's shape, of a chosen size, with the unclean data
//! a years-old Mongoose database holds; and, beside it, `expected.json`:
//! what a correct import makes of it, worked out as the data is made (who
//! signs in with which password, each movie's ratings that count).
//!
//! users.json and ratings.json are in mongoexport's canonical form, the
//! other files in its relaxed form (its default).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{json, Value};

/// How big a dump to write.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub users: usize,
    pub movies: usize,
    pub ratings: usize,
    pub comments: usize,
}

/// Deterministic pseudo-random numbers (xorshift64*): the same dump every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 1000 < percent * 10
    }
}

/// ObjectIds made in creation order: a second each from 2019 on, a counter after.
struct Ids(u32);

impl Ids {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("{:08x}a1b2c3d4{:08x}", 1_546_300_800 + self.0 * 7, self.0)
    }
}

fn date(ms: i64, canonical: bool) -> Value {
    match canonical {
        true => json!({"$date": {"$numberLong": ms.to_string()}}),
        false => {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64);
            json!({"$date": humantime::format_rfc3339_millis(at).to_string()})
        }
    }
}

fn int(n: i64, canonical: bool) -> Value {
    match canonical {
        true => json!({"$numberInt": n.to_string()}),
        false => json!(n),
    }
}

fn write_lines(path: &Path, rows: &[Value]) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    for row in rows {
        serde_json::to_writer(&mut out, row)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

const PASSWORDS: [(&str, u32); 3] = [("old-password-1", 4), ("short", 4), ("legacy-pass-10", 10)];
const GENRES: [&str; 6] = ["Drama", "Comedy", "Action", "Thriller", "Sci-Fi", "Horror"];

/// Writes users.json, movies.json, favorites.json, ratings.json,
/// comments.json and expected.json into `dir`.
pub fn write(dir: &Path, size: Size, seed: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng(seed | 1);
    let mut ids = Ids(0);
    let hashes: Vec<String> = PASSWORDS
        .iter()
        .map(|(p, cost)| bcrypt::hash(p, *cost).expect("bcrypt of a short password"))
        .collect();
    let t0: i64 = 1_546_300_800_000;

    // Users: who they are after the import (an index into `owners`), or None when skipped.
    let mut users = Vec::new();
    let mut owner_of: Vec<Option<usize>> = Vec::new();
    let mut user_oids = Vec::new();
    let mut signs_in = Vec::new();
    for i in 0..size.users {
        let oid = ids.next();
        let pw = i % PASSWORDS.len();
        let mut doc = json!({"_id": {"$oid": oid}, "email": format!("user{i}@example.com"),
            "username": format!("user_{i}"), "password": hashes[pw], "role": "user",
            "createdAt": date(t0 + i as i64 * 60_000, true), "__v": int(0, true)});
        if i % 97 == 5 {
            doc["email"] = json!(format!("user{i} at example.com"));
            owner_of.push(None);
        } else {
            owner_of.push(Some(i));
            if signs_in.len() < PASSWORDS.len() && i % PASSWORDS.len() == signs_in.len() {
                signs_in.push(json!({"email": format!("user{i}@example.com"), "password": PASSWORDS[pw].0}));
            }
        }
        if i % 50 == 7 {
            doc["username"] = json!("user_7");
        }
        if i % 40 == 3 {
            doc["lastLoginIp"] = json!("10.0.0.1");
        }
        users.push(doc);
        user_oids.push(oid);
    }
    // Accounts again with the e-mail in other case, created later: merged into the first.
    let originals = users.len();
    let again: Vec<usize> = (0..originals)
        .filter(|i| i % 100 == 11 && owner_of[*i].is_some())
        .collect();
    for i in again {
        let oid = ids.next();
        users.push(json!({"_id": {"$oid": oid}, "email": format!("USER{i}@Example.com"),
            "username": format!("User{i}again"), "password": hashes[0],
            "createdAt": date(t0 + 900_000_000_000 + i as i64, true)}));
        owner_of.push(owner_of[i]);
        user_oids.push(oid);
    }

    // Movies: 1 in 100 without a title (skipped with what refers to it).
    let mut movies = Vec::new();
    let mut movie_ok = Vec::new();
    let mut movie_oids = Vec::new();
    for m in 0..size.movies {
        let oid = ids.next();
        let mut doc = json!({"_id": {"$oid": oid}, "title": format!("Movie {m}"),
            "description": format!("The story of movie {m}."), "genres": [GENRES[m % 6], GENRES[(m + 1) % 6]],
            "releaseYear": 1950 + (m % 70) as i64, "durationMinutes": 80 + (m % 60) as i64,
            "posterUrl": format!("https://res.cloudinary.com/demo/image/upload/v1/streamia/posters/{oid}.jpg"),
            "posterPublicId": format!("streamia/posters/{oid}"),
            "averageRating": 3.3, "totalRatings": 12, "createdAt": date(t0 + m as i64 * 3_600_000, false)});
        if m % 100 == 42 {
            doc.as_object_mut().unwrap().remove("title");
        }
        if m % 10 == 0 {
            doc["subtitles"] = json!([{"language": "es", "url": format!("https://res.cloudinary.com/demo/raw/upload/v1/streamia/subtitles/{oid}-es.vtt"), "publicId": format!("streamia/subtitles/{oid}-es.vtt")}]);
        }
        movie_ok.push(m % 100 != 42);
        movies.push(doc);
        movie_oids.push(oid);
    }

    // Ratings: the latest per person and movie counts; bad scores and gone references do not.
    let mut ratings = Vec::new();
    let mut latest: HashMap<(usize, usize), (i64, i64)> = HashMap::new();
    for r in 0..size.ratings {
        let u = rng.below(user_oids.len());
        let m = rng.below(movie_oids.len());
        let mut score = 1 + rng.below(5) as i64;
        if rng.chance(1) {
            score = if rng.chance(50) { 0 } else { 6 };
        }
        let gone_user = rng.chance(1);
        let user = match gone_user {
            true => ids.next(),
            false => user_oids[u].clone(),
        };
        let at = t0 + 1_000_000_000 + r as i64 * 1_000;
        ratings.push(
            json!({"_id": {"$oid": ids.next()}, "user": {"$oid": user}, "movie": {"$oid": movie_oids[m]},
            "score": int(score, true), "createdAt": date(at, true), "updatedAt": date(at, true)}),
        );
        if let (false, Some(owner), true, 1..=5) = (gone_user, owner_of[u], movie_ok[m], score) {
            latest.insert((owner, m), (at, score));
        }
    }
    let mut by_movie: BTreeMap<usize, (i64, i64)> = BTreeMap::new();
    for ((_, m), (_, score)) in &latest {
        let e = by_movie.entry(*m).or_default();
        e.0 += 1;
        e.1 += score;
    }

    // Favourites: two a person, some twice.
    let mut favorites = Vec::new();
    for (u, oid) in user_oids.iter().enumerate().take(originals) {
        for k in 0..2 {
            let m = (u * 7 + k * 13) % movie_oids.len();
            let times = if u % 30 == 1 { 2 } else { 1 };
            for _ in 0..times {
                favorites.push(json!({"_id": {"$oid": ids.next()}, "user": {"$oid": oid}, "movie": {"$oid": movie_oids[m]},
                    "note": if k == 0 { json!("to watch") } else { Value::Null }, "createdAt": date(t0 + 2_000_000_000, false)}));
            }
        }
    }

    // Comments: a fifth are replies; parents deleted, rejected or pending; a few replies to a parent long gone.
    let mut comments: Vec<Value> = Vec::new();
    let mut comment_oids: Vec<(String, usize)> = Vec::new();
    for c in 0..size.comments {
        let oid = ids.next();
        let u = rng.below(originals);
        let reply_to = (c % 5 == 4 && !comment_oids.is_empty()).then(|| rng.below(comment_oids.len()));
        let m = match reply_to {
            Some(p) => comment_oids[p].1,
            None => rng.below(movie_oids.len()),
        };
        let at = t0 + 3_000_000_000 + c as i64 * 1_000;
        let mut doc = json!({"_id": {"$oid": oid}, "user": {"$oid": user_oids[u]}, "movie": {"$oid": movie_oids[m]},
            "content": format!("Comment {c}: worth a watch."), "status": "approved",
            "createdAt": date(at, false), "updatedAt": date(at, false)});
        match c % 50 {
            10 => {
                doc["isDeleted"] = json!(true);
                doc["content"] = json!("");
            }
            20 => doc["status"] = json!("rejected"),
            30 => doc["status"] = json!("pending"),
            _ => {}
        }
        match reply_to {
            Some(p) => doc["parent"] = json!({"$oid": comment_oids[p].0}),
            None if c % 200 == 9 => doc["parent"] = json!({"$oid": ids.next()}),
            None => {}
        }
        comments.push(doc);
        comment_oids.push((oid, m));
    }

    write_lines(&dir.join("users.json"), &users)?;
    write_lines(&dir.join("movies.json"), &movies)?;
    write_lines(&dir.join("favorites.json"), &favorites)?;
    write_lines(&dir.join("ratings.json"), &ratings)?;
    write_lines(&dir.join("comments.json"), &comments)?;
    let sample: Vec<Value> = by_movie
        .iter()
        .filter(|(m, _)| **m % (size.movies / 20).max(1) == 0)
        .map(|(m, (n, sum))| {
            json!({"title": format!("Movie {m}"), "id": crate::ids::ObjectId::parse(&movie_oids[*m]).unwrap().to_uuid(),
            "count": n, "sum": sum})
        })
        .collect();
    let expected = json!({
        "signIn": signs_in,
        "users": owner_of[..originals].iter().filter(|o| o.is_some()).count(),
        "movies": movie_ok.iter().filter(|ok| **ok).count(),
        "ratings": latest.len(),
        "ratedMovies": sample,
    });
    std::fs::write(dir.join("expected.json"), serde_json::to_vec_pretty(&expected)?)
}
