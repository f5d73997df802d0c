//! Checks every planned setting against the target server's own catalog
//! and attaches what the catalog knows (context, default, base-unit value).

use super::plan::{CheckedInfo, Plan, Role, Source};
use crate::catalog::{Catalog, CheckError};
use std::fmt;
use thiserror::Error;

#[derive(Debug)]
pub struct ValidationError {
    pub role: Role,
    pub name: String,
    /// The profile position of an override; `None` for a formula's value.
    pub at: Option<String>,
    pub error: CheckError,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: {}", self.error),
            None => write!(
                f,
                "{} (formula, an estune bug; please report it): {}",
                self.role, self.error
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

/// Validates in place; all problems are reported at once.
pub fn validate(plan: &mut Plan, catalog: &Catalog) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
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
                    let at = match &s.source {
                        Source::Override { at, .. } => Some(at.to_string()),
                        Source::Formula => None,
                    };
                    if !errors
                        .iter()
                        .any(|e: &ValidationError| e.at.is_some() && e.at == at)
                    {
                        errors.push(ValidationError {
                            role: rp.role,
                            name: s.name.clone(),
                            at,
                            error,
                        });
                    }
                }
            }
        }
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
