//! `tusk completions`: a shell completion script, generated from the command
//! definitions.

use clap_complete::Shell;

use crate::output::write_raw;

/// Print a completion script for SHELL on stdout.
///
/// Load it in the current shell, or install it where the shell looks for
/// completions.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  source <(tusk completions bash)
  tusk completions bash > /etc/bash_completion.d/tusk
  tusk completions zsh > \"${fpath[1]}/_tusk\"
  tusk completions fish > ~/.config/fish/completions/tusk.fish")]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    shell: Shell,
}

/// Runs the command over the whole command line definition `root`.
pub fn run(args: Args, mut root: clap::Command) -> anyhow::Result<()> {
    write_raw(&script(args.shell, &mut root))?;
    Ok(())
}

/// The completion script of `root` for `shell`.
fn script(shell: Shell, root: &mut clap::Command) -> Vec<u8> {
    let name = root.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, root, name, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use clap::{Arg, Command};

    use super::*;

    #[test]
    fn scripts_name_the_subcommands_and_their_flags() {
        let mut root = Command::new("tusk")
            .subcommand(Command::new("versions").arg(Arg::new("store").long("store")))
            .subcommand(Command::new("rollback"));
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Elvish,
        ] {
            let text = String::from_utf8(script(shell, &mut root)).expect("UTF-8");
            for word in ["versions", "rollback", "store"] {
                assert!(text.contains(word), "{shell}: no {word} in\n{text}");
            }
        }
    }
}
