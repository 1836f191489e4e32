//! Password hashing (argon2id) on a small pool of dedicated threads.
//!
//! argon2 allocates 19 MiB per hash. Run on tokio's blocking pool, each of its many threads
//! got its own glibc arena that kept those megabytes after the hash was done (the load sweep saw
//! hundreds of MiB of resident memory after creating operators). A fixed pool, one thread per
//! core, bounds that to a few arenas while still using every core at a shift-start login burst.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::oneshot;

use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

fn pool() -> &'static Sender<Job> {
    static POOL: OnceLock<Sender<Job>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    loop {
                        // Hold the lock only to take a job, not while hashing.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("password threads start");
        }
        tx
    })
}

async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    let (tx, rx) = oneshot::channel();
    pool()
        .send(Box::new(move || {
            let _ = tx.send(f());
        }))
        .map_err(|_| ApiError::internal())?;
    rx.await.map_err(|_| ApiError::internal())
}

/// Hashes a password with argon2id (blocking; start-up or [`hash`]).
pub fn hash_now(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        })
}

/// Hashes a password on the password threads.
pub async fn hash(password: String) -> Result<String, ApiError> {
    run(move || hash_now(&password)).await?
}

/// Checks a password against a stored PHC string on the password threads.
pub async fn verify(password: String, hash: String) -> Result<bool, ApiError> {
    run(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
}
