//! `aula user`: the accounts that sign in to `aula serve` in a browser (create, list, disable,
//! passwd). A password is asked twice on the terminal without echo, or read as the first line of
//! standard input when that is not a terminal.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result};
use clap::Subcommand;

use crate::catalogue::Role;
use crate::config::Config;
use crate::ops::accounts::{self, CreateUser};

#[derive(Debug, Subcommand)]
#[command(
    after_help = "User names: 1 to 64 characters, lowercase letters a-z, digits, '.', '_' \
    or '-', starting with a letter or a digit. Passwords: at least 10 characters. Roles: clerk \
    (live control: agenda markers, closed parts, floor events), press (clips, publishing, report; \
    live control too), admin (everything: corrections, closed parts' content, imports). Exit \
    codes: 0 success, 1 failure, 2 bad input (a bad or taken name, a short password, an unknown \
    user)."
)]
pub enum UserCommand {
    /// Create a user; the password is asked twice on the terminal without echo, or read as the
    /// first line of standard input when that is not a terminal.
    Create {
        /// The name to sign in with (a-z, 0-9, '.', '_', '-').
        name: String,
        /// clerk, press or admin.
        #[arg(long, value_enum)]
        role: Role,
    },
    /// List the users: name, role, whether disabled, when created.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: it can no longer sign in and its open sessions end.
    Disable { name: String },
    /// Set a user's password (asked on the terminal, or read from standard input); its open
    /// sessions end.
    Passwd { name: String },
}

/// The password: asked twice without echo on a terminal, else the first line of standard input.
fn read_password(prompt: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt).context("reading the password")?;
        let again = rpassword::prompt_password("Again: ").context("reading the password")?;
        if first != again {
            return Err(crate::BadInput("the two passwords differ".into()).into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

pub async fn run(config: &Config, cmd: UserCommand) -> Result<()> {
    let catalogue = super::open_catalogue(config).await?;
    match cmd {
        UserCommand::Create { name, role } => {
            accounts::check_name(&name)?;
            if role == Role::Public {
                return Err(accounts::AccountError::PublicRole.into());
            }
            let password = read_password(&format!("Password for {name}: "))?;
            let user = accounts::create(
                &catalogue,
                &CreateUser {
                    name,
                    role,
                    password,
                },
            )
            .await?;
            println!("created user {} ({})", user.name, user.role.as_str());
        }
        UserCommand::List { json } => {
            let users = accounts::list(&catalogue).await?;
            if json {
                return super::print_json(&users);
            }
            if users.is_empty() {
                println!("no users (aula user create NAME --role admin)");
            }
            for u in &users {
                println!(
                    "{:<24} {:<6} {:<9} {}",
                    u.name,
                    u.role.as_str(),
                    if u.disabled { "disabled" } else { "active" },
                    u.created_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        UserCommand::Disable { name } => {
            if accounts::disable(&catalogue, &name).await? {
                println!("disabled user {name}");
            } else {
                println!("user {name} was already disabled");
            }
        }
        UserCommand::Passwd { name } => {
            if accounts::user(&catalogue, &name).await?.is_none() {
                return Err(crate::catalogue::CatalogueError::NoUser(name).into());
            }
            let password = read_password(&format!("New password for {name}: "))?;
            accounts::passwd(&catalogue, &name, &password).await?;
            println!("changed the password of {name}");
        }
    }
    Ok(())
}
