//! The minijinja environment: built-in templates embedded in the binary,
//! each overridable by a file of the same name in `--templates DIR`. It
//! formats a plan; it never computes a value.

mod app;
mod explain;
pub use app::{literal, quote_ident};
pub use explain::{explain, plan_json};

use crate::tune::{OwnedRelation, Plan, RelSetting, RelationKind, Role, RolePlan, Setting, Source};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "postgresql.conf.j2",
        include_str!("../../templates/postgresql.conf.j2"),
    ),
    (
        "pg_hba.conf.j2",
        include_str!("../../templates/pg_hba.conf.j2"),
    ),
    (
        "catalog.sql.j2",
        include_str!("../../templates/catalog.sql.j2"),
    ),
    (
        "alter-system.sql.j2",
        include_str!("../../templates/alter-system.sql.j2"),
    ),
];

#[derive(Debug, Error)]
pub enum RenderError {
    #[error("template directory {0} does not exist")]
    NoDir(PathBuf),
    #[error("catalog.sql: {0}")]
    Catalog(String),
    #[error("template {name}: {source:#}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
}

pub struct Renderer {
    env: Environment<'static>,
}

fn pad(s: String, width: usize) -> String {
    format!("{s:<width$}")
}

impl Renderer {
    /// Templates from `dir` win over the built-in ones, file by file.
    pub fn new(dir: Option<&Path>) -> Result<Renderer, RenderError> {
        if let Some(d) = dir {
            if !d.is_dir() {
                return Err(RenderError::NoDir(d.to_path_buf()));
            }
        }
        let dir = dir.map(Path::to_path_buf);
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.add_filter("pad", pad);
        env.set_loader(move |name| {
            if let Some(d) = &dir {
                let p = d.join(name);
                if p.is_file() {
                    return std::fs::read_to_string(&p).map(Some).map_err(|e| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("cannot read {}: {e}", p.display()),
                        )
                    });
                }
            }
            Ok(TEMPLATES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.to_string()))
        });
        Ok(Renderer { env })
    }

    fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, RenderError> {
        let err = |source| RenderError::Template {
            name: name.to_string(),
            source,
        };
        let t = self.env.get_template(name).map_err(err)?;
        t.render(ctx).map_err(err)
    }

    pub fn postgresql_conf(&self, plan: &Plan, role: Role) -> Result<String, RenderError> {
        self.render("postgresql.conf.j2", view(plan, Some(role)))
    }

    pub fn pg_hba(&self, plan: &Plan, role: Role) -> Result<String, RenderError> {
        self.render("pg_hba.conf.j2", view(plan, Some(role)))
    }

    pub fn alter_system(&self, plan: &Plan, role: Role) -> Result<String, RenderError> {
        self.render("alter-system.sql.j2", view(plan, Some(role)))
    }

    /// Every relation of the event-store schema: what the plan sets, and
    /// every other storage parameter and statistics target reset, so that
    /// the catalog ends up exactly the plan's whatever was there before.
    pub fn catalog_sql(&self, plan: &Plan) -> Result<String, RenderError> {
        let owned =
            crate::tune::owned(&plan.relations, plan.pg_version).map_err(RenderError::Catalog)?;
        let mut v = view(plan, None);
        v.relations = owned.iter().map(owned_view).collect();
        v.sets_no_catalog = owned
            .iter()
            .all(|r| r.options.is_empty() && r.statistics.is_empty());
        v.app = Some(app::view(plan).map_err(RenderError::Catalog)?);
        self.render("catalog.sql.j2", v)
    }
}

#[derive(Serialize)]
struct View<'a> {
    version: &'static str,
    plan: PlanView<'a>,
    role: Option<RoleView>,
    access: &'a crate::profile::Access,
    relations: Vec<RelView>,
    /// The plan sets no storage parameter or statistics target at all.
    sets_no_catalog: bool,
    /// The application role's settings (catalog.sql only).
    app: Option<app::AppView>,
}

#[derive(Serialize)]
struct PlanView<'a> {
    profile: &'a str,
    files: String,
    method: &'static str,
    hash: &'a str,
    pg_version: u32,
    catalog: String,
}

#[derive(Serialize)]
struct RoleView {
    name: &'static str,
    memory: String,
    memory_source: String,
    cpus: String,
    cpus_source: String,
    storage: String,
    connections: u32,
    budget_total: String,
    budget_limit: String,
    warnings: Vec<String>,
    groups: Vec<GroupView>,
    restart: Vec<String>,
}

#[derive(Serialize)]
struct GroupView {
    title: &'static str,
    settings: Vec<SettingView>,
}

#[derive(Serialize)]
struct SettingView {
    name: String,
    conf: String,
    sql: String,
    rule: String,
    note: Option<String>,
    apply: Option<&'static str>,
}

#[derive(Serialize)]
struct RelView {
    kind: &'static str,
    /// table, B-tree index or GIN index, for comments.
    kind_name: &'static str,
    name: String,
    options: Vec<RelSettingView>,
    statistics: Vec<RelSettingView>,
    clean_pending: bool,
    /// Storage parameters the plan does not set (catalog.sql only).
    reset: Vec<&'static str>,
    /// Columns without a target in the plan (catalog.sql only).
    default_statistics: Vec<&'static str>,
}

#[derive(Serialize)]
struct RelSettingView {
    name: String,
    value: String,
    assignment: String,
    rule: String,
    note: Option<String>,
}

/// "override at file:line:col; the formula gave …", for comments.
pub fn source_note(source: &Source) -> Option<String> {
    match source {
        Source::Formula => None,
        Source::Override { at, formula } => Some(match formula {
            Some(f) => format!("set at {at}; the formula gave {f}"),
            None => format!("set at {at}"),
        }),
    }
}

fn setting_view(s: &Setting) -> SettingView {
    SettingView {
        name: s.name.clone(),
        conf: s.value.to_conf(),
        sql: format!("'{}'", s.value.to_plain().replace('\'', "''")),
        rule: s.rule.clone(),
        note: source_note(&s.source),
        apply: s.checked.as_ref().map(|c| c.apply),
    }
}

fn role_view(r: &RolePlan) -> RoleView {
    use crate::tune::budget::human;
    let mut groups: Vec<GroupView> = Vec::new();
    for s in &r.settings {
        let title = s.group.title();
        match groups.last_mut() {
            Some(g) if g.title == title => g.settings.push(setting_view(s)),
            _ => groups.push(GroupView {
                title,
                settings: vec![setting_view(s)],
            }),
        }
    }
    RoleView {
        name: r.role.as_str(),
        memory: human(r.inputs.memory.value),
        memory_source: r.inputs.memory.source.clone(),
        cpus: format!("{}", r.inputs.cpus.value),
        cpus_source: r.inputs.cpus.source.clone(),
        storage: r.inputs.storage.clone(),
        connections: r.inputs.connections,
        budget_total: human(r.budget.total),
        budget_limit: human(r.budget.limit),
        warnings: r.warnings.clone(),
        groups,
        restart: r
            .settings
            .iter()
            .filter(|s| s.checked.as_ref().is_some_and(|c| c.apply == "restart"))
            .map(|s| s.name.clone())
            .collect(),
    }
}

fn rel_setting_view(s: &RelSetting) -> RelSettingView {
    RelSettingView {
        name: s.name.clone(),
        value: s.value.to_plain(),
        assignment: format!("{} = {}", s.name, s.value.to_conf()),
        rule: s.rule.clone(),
        note: source_note(&s.source),
    }
}

fn kind_str(kind: RelationKind) -> &'static str {
    match kind {
        RelationKind::Table => "table",
        RelationKind::Index => "index",
    }
}

fn clean_pending(options: &[RelSetting]) -> bool {
    options
        .iter()
        .any(|o| o.name == "fastupdate" && o.value == crate::value::Value::Bool(false))
}

fn owned_view(r: &OwnedRelation) -> RelView {
    RelView {
        kind: kind_str(r.schema.kind),
        kind_name: crate::tune::reloptions::kind_name(r.schema.relkind),
        name: r.schema.name.to_string(),
        options: r.options.iter().map(rel_setting_view).collect(),
        statistics: r.statistics.iter().map(rel_setting_view).collect(),
        clean_pending: clean_pending(r.options),
        reset: r.reset.clone(),
        default_statistics: r.default_statistics.clone(),
    }
}

fn view(plan: &Plan, role: Option<Role>) -> View<'_> {
    View {
        version: env!("CARGO_PKG_VERSION"),
        plan: PlanView {
            profile: &plan.profile,
            files: plan.profile_files.join(" extends "),
            method: plan.method.as_str(),
            hash: &plan.hash,
            pg_version: plan.pg_version,
            catalog: plan
                .catalog
                .clone()
                .unwrap_or_else(|| "no catalog (unchecked)".into()),
        },
        role: role.map(|r| role_view(plan.role(r))),
        access: &plan.access,
        relations: plan
            .relations
            .iter()
            .map(|r| RelView {
                kind: kind_str(r.kind),
                kind_name: match r.kind {
                    RelationKind::Table => "table",
                    RelationKind::Index => "index",
                },
                name: r.name.clone(),
                options: r.options.iter().map(rel_setting_view).collect(),
                statistics: r.statistics.iter().map(rel_setting_view).collect(),
                clean_pending: clean_pending(&r.options),
                reset: vec![],
                default_statistics: vec![],
            })
            .collect(),
        sets_no_catalog: plan.relations.is_empty(),
        app: None,
    }
}
