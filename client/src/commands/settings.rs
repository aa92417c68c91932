//! `crm settings ...`: the workspace settings document (pipeline, playbook, thresholds, currencies,
//! the company's header on quotes).

pub mod company;

use super::Ctx;
use crate::cli::{RateArgs, SettingsCommand, StepArgs};
use crate::output;
use crate::store::Store;
use anyhow::Result;
use crm_shared::rates::Rate;
use crm_shared::schema::{Settings, SettingsEdit};
use crm_shared::values::Currency;
use crm_shared::Stage;

pub fn run(ctx: &Ctx, cmd: SettingsCommand) -> Result<()> {
    let mut store = ctx.open()?;
    let edits = match cmd {
        SettingsCommand::Show => return print(ctx, &store.settings()?),
        SettingsCommand::Probability { stage, percent } => {
            let stage: Stage = stage.parse()?;
            vec![SettingsEdit::Probability(stage, percent_value(&percent)?)]
        }
        SettingsCommand::Grades { a, b, c } => grade_edits(a, b, c)?,
        SettingsCommand::Currency { code, remove, base } => {
            currency_edits(&store.settings()?, &code, remove, base)?
        }
        SettingsCommand::Step(a) => step_edits(&store.settings()?, a)?,
        SettingsCommand::Rate(a) => rate_edits(&store, a)?,
        SettingsCommand::Company(a) => {
            require_manager(ctx, &store)?;
            company::edits(a)?
        }
    };
    let settings = save(ctx, &mut store, &edits)?;
    if ctx.json {
        return output::json(&settings);
    }
    eprintln!("Saved the settings.");
    print(ctx, &settings)
}

/// Saves settings edits (as `crm settings ...` and the web UI's settings page do), after
/// checking that this user may change them.
pub fn save(ctx: &Ctx, store: &mut Store, edits: &[SettingsEdit]) -> Result<Settings> {
    require_manager(ctx, store)?;
    Ok(store.edit_settings(edits, ctx.now_ms)?)
}

/// Refuses a rep: the server takes settings changes from managers and admins only, so a rep's
/// is refused here, not saved and refused at every sync. Unknown grants (never synced, an open
/// server) allow it.
pub fn require_manager(ctx: &Ctx, store: &Store) -> Result<()> {
    super::roles::require_manager(ctx, store, "changes the workspace settings")
}

/// The grade minimums given (`--a`, `--b`, `--c`), each a whole number of cases.
pub fn grade_edits(
    a: Option<String>,
    b: Option<String>,
    c: Option<String>,
) -> Result<Vec<SettingsEdit>> {
    let mut edits = Vec::new();
    for (grade, v) in [("A", a), ("B", b), ("C", c)] {
        if let Some(v) = v {
            let n: i64 = v
                .trim()
                .parse()
                .ok()
                .filter(|n| (0..=100_000).contains(n))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--{} needs a whole number of cases, not `{v}`",
                        grade.to_lowercase()
                    )
                })?;
            edits.push(SettingsEdit::GradeMinimum(grade.into(), n));
        }
    }
    if edits.is_empty() {
        anyhow::bail!("give at least one of --a N, --b N, --c N");
    }
    Ok(edits)
}

/// `crm settings currency CODE [--remove] [--base]`.
pub fn currency_edits(
    settings: &Settings,
    code: &str,
    remove: bool,
    base: bool,
) -> Result<Vec<SettingsEdit>> {
    let code = Currency::parse(code)?;
    if base {
        return Ok(vec![SettingsEdit::BaseCurrency(code)]);
    }
    if remove && settings.base_currency == code.as_str() {
        anyhow::bail!("{code} is the base currency: choose another with `crm settings currency CODE --base` first");
    }
    Ok(vec![SettingsEdit::Currency {
        code,
        used: !remove,
    }])
}

/// `crm settings rate CODE RATE [--to CODE] [--date DAY] [--remove]`.
pub fn rate_edits(store: &Store, a: RateArgs) -> Result<Vec<SettingsEdit>> {
    let settings = store.settings()?;
    let from = Currency::parse(&a.code)?;
    let to = match &a.to {
        Some(t) => Currency::parse(t)?,
        None => Currency::parse(&settings.base_currency)?,
    };
    if from == to {
        anyhow::bail!("{from} is the currency the rate is in: give another code, or --to CODE");
    }
    let date = match &a.date {
        Some(d) => super::edits::typed_day(store, "date", d)?,
        None => store.dates.now.date(),
    };
    let rate = match (&a.rate, a.remove) {
        (_, true) => {
            let held = settings.rates.iter().any(|r| {
                r.from == from.as_str() && r.to == to.as_str() && r.date == date.to_string()
            });
            if !held {
                anyhow::bail!(
                    "there is no rate of {from} in {to} dated {date} (see `crm settings show`)"
                );
            }
            None
        }
        (Some(r), false) => Some(Rate::parse(r)?),
        (None, false) => anyhow::bail!("give the rate, e.g. `crm settings rate {from} 0.92`"),
    };
    Ok(vec![SettingsEdit::Rate {
        from,
        to,
        date,
        rate,
    }])
}

pub fn percent_value(text: &str) -> Result<i64> {
    text.trim()
        .trim_end_matches('%')
        .parse::<i64>()
        .ok()
        .filter(|p| (0..=100).contains(p))
        .ok_or_else(|| {
            anyhow::anyhow!("a probability is a whole percent from 0 to 100, not `{text}`")
        })
}

/// `crm settings step STAGE KEY [--title T] [--required|--optional] [--order N] [--remove]`.
pub fn step_edits(settings: &Settings, a: StepArgs) -> Result<Vec<SettingsEdit>> {
    let stage: Stage = a.stage.parse()?;
    let key = a.key.trim().to_string();
    if !crm_shared::schema::valid_step_key(&key) {
        anyhow::bail!("`{key}` is not a step key: use lowercase letters, digits and dashes, e.g. send-proposal");
    }
    let existing = settings.steps(stage).iter().find(|s| s.key == key);
    if a.remove {
        if existing.is_none() {
            anyhow::bail!("stage {stage} has no step `{key}`");
        }
        return Ok(vec![SettingsEdit::RemoveStep { stage, key }]);
    }
    let title = match (&a.title, existing) {
        (Some(t), _) if !t.trim().is_empty() => t.trim().to_string(),
        (None, Some(e)) => e.title.clone(),
        _ => anyhow::bail!("a new step needs --title \"What to do\""),
    };
    let required = match (a.required, a.optional, existing) {
        (true, _, _) => true,
        (_, true, _) => false,
        (_, _, Some(e)) => e.required,
        _ => false,
    };
    let order = a.order.or(existing.map(|e| e.order)).unwrap_or_else(|| {
        settings
            .steps(stage)
            .iter()
            .map(|s| s.order + 1)
            .max()
            .unwrap_or(0)
    });
    Ok(vec![SettingsEdit::Step {
        stage,
        key,
        title,
        required,
        order,
    }])
}

fn print(ctx: &Ctx, s: &Settings) -> Result<()> {
    if ctx.json {
        return output::json(s);
    }
    println!("Pipeline");
    let mut t = output::table(&["STAGE", "PROBABILITY", "PLAYBOOK STEPS"]);
    for stage in Stage::ALL {
        let steps: Vec<String> = s
            .steps(stage)
            .iter()
            .map(|st| {
                format!(
                    "{}: {}{}",
                    st.key,
                    st.title,
                    if st.required { " (required)" } else { "" }
                )
            })
            .collect();
        t.add_row(vec![
            stage.key().to_string(),
            format!("{}%", s.probability(stage)),
            steps.join("\n"),
        ]);
    }
    println!("{t}");
    println!(
        "\nOpen cases each rep should hold: A >= {}, B >= {}, C >= {}",
        s.grade_minimum("A"),
        s.grade_minimum("B"),
        s.grade_minimum("C")
    );
    println!(
        "Currencies: {} (base {})",
        s.currencies.join(", "),
        s.base_currency
    );
    let c = &s.company;
    if c.name.is_some() || c.address.is_some() || c.terms.is_some() || c.logo.is_some() {
        println!(
            "Company header on quotes: {}{}{}{}",
            c.name.as_deref().unwrap_or("(no name)"),
            c.address
                .as_deref()
                .map(|a| format!(", {}", a.replace('\n', ", ")))
                .unwrap_or_default(),
            if c.terms.is_some() { "; terms set" } else { "" },
            if c.logo_bytes > 0 {
                format!("; logo of {} bytes", c.logo_bytes)
            } else {
                String::new()
            }
        );
    }
    if !s.rates.is_empty() {
        println!("Exchange rates (each from its day on):");
        for r in &s.rates {
            println!("  {}", r.describe());
        }
    }
    Ok(())
}
