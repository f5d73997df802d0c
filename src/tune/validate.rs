//! Checks every planned setting against the target server's own catalog
//! and attaches what the catalog knows (context, default, base-unit value).
//! Application settings must also be ones a role setting can carry.

use super::plan::{AppChecked, CheckedInfo, Plan, Source};
use crate::catalog::{Catalog, CheckError};
use std::fmt;
use thiserror::Error;

/// What is wrong with one setting.
#[derive(Debug, Error)]
pub enum Problem {
    /// The server would not take the value (or has no such parameter).
    #[error(transparent)]
    Catalog(#[from] CheckError),
    /// The server has it, but not at the scope the profile puts it.
    #[error("{0}")]
    Scope(String),
}

#[derive(Debug)]
pub struct ValidationError {
    /// `primary`, `replica`, or `application settings`.
    pub place: &'static str,
    pub name: String,
    /// The profile position of an override; `None` for a formula's value.
    pub at: Option<String>,
    pub error: Problem,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: {}", self.error),
            None => write!(
                f,
                "{} (formula, an estune bug; please report it): {}",
                self.place, self.error
            ),
        }
    }
}

#[derive(Debug, Error)]
#[error("the plan does not pass the {catalog}:\n{}", .errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
pub struct ValidationErrors {
    pub catalog: String,
    pub errors: Vec<ValidationError>,
}

fn position(source: &Source) -> Option<String> {
    match source {
        Source::Override { at, .. } => Some(at.to_string()),
        Source::Formula => None,
    }
}

/// Validates in place; all problems are reported at once.
pub fn validate(plan: &mut Plan, catalog: &Catalog) -> Result<(), ValidationErrors> {
    let mut errors: Vec<ValidationError> = Vec::new();
    for rp in &mut plan.roles {
        for s in &mut rp.settings {
            match catalog.check(&s.name, &s.value) {
                Ok(c) => {
                    s.checked = Some(CheckedInfo {
                        apply: c.context.apply_label(),
                        context: c.context,
                        default: catalog.default_display(&s.name),
                        setting: c.setting,
                    })
                }
                Err(error) => {
                    // An override repeated in both roles is reported once.
                    let at = position(&s.source);
                    if !errors.iter().any(|e| e.at.is_some() && e.at == at) {
                        errors.push(ValidationError {
                            place: rp.role.as_str(),
                            name: s.name.clone(),
                            at,
                            error: error.into(),
                        });
                    }
                }
            }
        }
    }
    for s in &mut plan.app_settings {
        // Scope first: a server-wide parameter is refused for where it is,
        // whatever its value.
        let problem = match catalog.get(&s.name) {
            Some(p) => match super::application::out_of_scope(p) {
                Some(why) => Problem::Scope(why),
                None => match catalog.check(&p.name, &s.value) {
                    Ok(c) => {
                        s.name = p.name.clone();
                        s.checked = Some(AppChecked {
                            context: c.context,
                            default: catalog.default_display(&p.name),
                            shown: catalog.display(&p.name, &c.setting),
                        });
                        continue;
                    }
                    Err(e) => e.into(),
                },
            },
            None => Problem::Catalog(CheckError::UnknownParameter {
                name: s.name.clone(),
                major: catalog.major,
                suggestion: catalog.suggest(&s.name),
            }),
        };
        errors.push(ValidationError {
            place: "application settings",
            name: s.name.clone(),
            at: position(&s.source),
            error: problem,
        });
    }
    plan.catalog = Some(catalog.describe());
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors {
            catalog: catalog.describe(),
            errors,
        })
    }
}
