//! `rnats passwd`: make a bcrypt hash for a config file.
//!
//! Without arguments it invents a strong random password and prints it with
//! its hash; `-p` reads a password from the terminal (twice, without echo).

use std::io::{BufRead, Write};

use rand::Rng;

pub const PASSWD_USAGE: &str = "\
Usage: rnats passwd [--cost N] [-p]

Prints a bcrypt hash to put in a config file (`password: $2a$11$...`).
    -p, --password    read the password from the terminal instead of generating one
    --stdin           read the password from the first line of standard input
    --cost N          bcrypt cost, 4 to 31 (default 11)
";

pub const DEFAULT_COST: u32 = 11;
const PASSWORD_LEN: usize = 22;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A random password of 22 characters from [A-Za-z0-9] (about 131 bits),
/// drawn from rand's thread RNG (a CSPRNG seeded from the operating system).
pub fn random_password() -> String {
    let mut rng = rand::rng();
    (0..PASSWORD_LEN).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A `$2a$` hash: nats-server reads an unquoted `$2a$...` as a value but
/// `$2b$...` as a variable reference, so `$2a$` works in both servers.
pub fn hash(password: &str, cost: u32) -> Result<String, String> {
    bcrypt::hash_with_result(password, cost)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| format!("cannot hash: {e}"))
}

/// Reads one line from the terminal with echo off.
fn read_hidden(prompt: &str) -> Result<String, String> {
    let tty =
        std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").map_err(|e| format!("no terminal: {e}"))?;
    let mut out = tty.try_clone().map_err(|e| e.to_string())?;
    let _ = write!(out, "{prompt}");
    let _ = out.flush();
    let saved = rustix::termios::tcgetattr(&tty).map_err(|e| format!("not a terminal: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
    rustix::termios::tcsetattr(&tty, rustix::termios::OptionalActions::Now, &quiet).map_err(|e| e.to_string())?;
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = rustix::termios::tcsetattr(&tty, rustix::termios::OptionalActions::Now, &saved);
    let _ = writeln!(out);
    read.map_err(|e| e.to_string())?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Runs the command; returns the exit code.
pub fn run(args: &[String]) -> u8 {
    let mut cost = DEFAULT_COST;
    let mut ask = false;
    let mut stdin = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-p" | "--password" | "-password" => ask = true,
            "--stdin" | "-stdin" => stdin = true,
            "--cost" | "-cost" => match it.next().and_then(|c| c.parse::<u32>().ok()) {
                Some(c) if (4..=31).contains(&c) => cost = c,
                _ => {
                    eprintln!("rnats passwd: --cost takes a number from 4 to 31\n\n{PASSWD_USAGE}");
                    return 2;
                }
            },
            "-h" | "--help" => {
                print!("{PASSWD_USAGE}");
                return 0;
            }
            other => {
                eprintln!("rnats passwd: unknown option `{other}`\n\n{PASSWD_USAGE}");
                return 2;
            }
        }
    }
    let password = if stdin {
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line).is_err() || line.trim_end_matches(['\n', '\r']).is_empty() {
            eprintln!("rnats passwd: no password on standard input");
            return 1;
        }
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if ask {
        let first = match read_hidden("Enter password: ") {
            Ok(p) => p,
            Err(e) => {
                eprintln!("rnats passwd: {e}");
                return 1;
            }
        };
        if first.len() < 8 {
            eprintln!("rnats passwd: the password must have at least 8 characters");
            return 1;
        }
        match read_hidden("Reenter password: ") {
            Ok(second) if second == first => first,
            Ok(_) => {
                eprintln!("rnats passwd: the passwords do not match");
                return 1;
            }
            Err(e) => {
                eprintln!("rnats passwd: {e}");
                return 1;
            }
        }
    } else {
        let p = random_password();
        println!("pass: {p}");
        p
    };
    match hash(&password, cost) {
        Ok(h) => {
            println!("bcrypt hash: {h}");
            0
        }
        Err(e) => {
            eprintln!("rnats passwd: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_passwords_are_long_and_distinct() {
        let a = random_password();
        let b = random_password();
        assert_eq!(a.len(), PASSWORD_LEN);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn hash_verifies() {
        let h = hash("s3cret-pw", 4).unwrap();
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert!(bcrypt::verify("s3cret-pw", &h).unwrap());
        assert!(!bcrypt::verify("other", &h).unwrap());
    }
}
