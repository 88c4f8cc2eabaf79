//! `opsbot` binary: parse the command line, load the configuration, run.

use anyhow::Context;
use clap::Parser;
use opsbot::app::App;
use opsbot::chat::slack::settings::Needs;
use opsbot::cli::{AsSomeone, Cli, Command};
use opsbot::config::Config;
use opsbot::core::command::Command as BotCommand;
use opsbot::core::inbound::What;
use std::process::ExitCode;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("OPSBOT_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    opsbot::install_crypto();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config, aws } => match Config::load(&config, &env) {
            Ok(c) => {
                println!("{}", c.summary());
                if aws {
                    return check_aws(&c);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Serve { config, listen } => {
            let mut config = match Config::load(&config, &env) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("opsbot cannot start: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if let Some(addr) = listen {
                config.server.listen = addr;
            }
            init_logging("info");
            match serve(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("opsbot stopped: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Ask { who, question } => terminal(
            who,
            What::Question {
                text: question.join(" "),
                addressed: true,
            },
        ),
        Command::Whoami { who } => terminal(who, What::Command(BotCommand::Whoami)),
        Command::Inventory {
            config,
            schedule,
            once: _,
            post,
            json,
        } => {
            let config = match Config::load_for(&config, &env, Needs::Optional) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            init_logging("warn");
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(opsbot::chat::terminal::inventory(
                config, &schedule, post, json,
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run {
            who,
            regions,
            accounts,
            service,
            operation,
            params,
        } => terminal(
            who,
            What::Command(BotCommand::Run {
                regions,
                accounts,
                service,
                operation,
                params,
            }),
        ),
        Command::Accounts { who, name } => {
            terminal(who, What::Command(BotCommand::Accounts { name }))
        }
    }
}

/// Runs a terminal command: logs stay quiet (warnings on stderr) unless RUST_LOG says otherwise.
fn terminal(who: AsSomeone, what: What) -> ExitCode {
    let config = match Config::load_for(&who.config, &env, Needs::Optional) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging("warn");
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(opsbot::chat::terminal::run(
        config,
        &who.as_user,
        who.channel.as_deref(),
        who.json,
        what,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn check_aws(config: &Config) -> ExitCode {
    let rows = opsbot::aws::check::run(&config.accounts.registry, config.aws.clone()).await;
    println!("\n{}", opsbot::aws::check::table(&rows));
    let mut ok = rows.iter().all(|r| r.result.is_ok());
    if let Some(first) = config.accounts.registry.all().first() {
        let regions: Vec<String> = config
            .accounts
            .registry
            .all()
            .iter()
            .flat_map(|a| a.regions.iter().cloned())
            .collect();
        let endpoints = opsbot::aws::check::mcp(
            first,
            &regions,
            config.aws.clone(),
            config.mcp.server.clone(),
            config.mcp.pace,
        )
        .await;
        for (region, result) in endpoints {
            match result {
                Ok(tools) => println!(
                    "MCP {region:<11} ok  {} tools: {}",
                    tools.len(),
                    tools.join(", ")
                ),
                Err(e) => {
                    ok = false;
                    println!("MCP {region:<11} ERROR  {e}");
                }
            }
        }
    }
    if let Some(agent) = &config.agent {
        use opsbot::agent::model::{Message, Model, ModelRequest};
        let model =
            opsbot::agent::bedrock::Bedrock::new(&agent.model_id, &agent.region, false).await;
        let ping = ModelRequest {
            system: "Reply with the single word OK.".into(),
            messages: vec![Message::user("ping")],
            tools: vec![],
            max_tokens: 16,
        };
        match model.converse(&ping).await {
            Ok(_) => println!(
                "Bedrock         ok  {} in {} answers",
                agent.model_id, agent.region
            ),
            Err(e) => {
                ok = false;
                println!("Bedrock         ERROR  {e} (agent.model_id, agent.region)");
            }
        }
    }
    if let Some(d) = &config.store.dynamodb {
        let db = opsbot::store::dynamo::Dynamo::connect(d, opsbot::metrics::Metrics::new()).await;
        for (what, result) in db.check().await {
            match result {
                Ok(detail) => println!("Store {what:<14} ok  {detail}"),
                Err(e) => {
                    ok = false;
                    println!("Store {what:<14} ERROR  {e}");
                }
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[tokio::main]
async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; pick another with --listen",
                config.server.listen
            )
        })?;
    let app = App::builder(config).build().await?;
    app.run(listener, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}
