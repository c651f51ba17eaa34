//! The policy file: which program may call which method (with constraints on the arguments),
//! and which program may answer which method (with constraints on the results).
//!
//! ```text
//! # everything not allowed here is denied
//! call  alice  Calc.Add   where a <= 1000 and b <= 1000
//! call  alice  Store.*
//! call  *      Calc.Div   where b != 0
//! reply server Calc.*
//! reply server Store.Get  where value <= 1000000
//! reply server *
//! connect alice server   # alice may ask the monitor for a new channel to `server`
//! ```
//! A subject is a program name from the solution (or `*`, anyone); a target is
//! `Endpoint.Method`, `Endpoint.*` or `*`. Constraints compare a u32 field of the method's
//! arguments (`call`) or results (`reply`) with a number: `== != < <= > >=`.
//!
//! This module parses and validates against the IDL; deciding whether a message matches a rule
//! is the monitor's job (its check module), never this module's.

use std::path::Path;

use super::idl::{Idl, Method, Type};

/// Which messages a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Requests, keyed on the calling program.
    Call,
    /// Replies, keyed on the answering program.
    Reply,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// Whether `left op right` holds.
    pub fn holds(self, left: u32, right: u32) -> bool {
        match self {
            Op::Eq => left == right,
            Op::Ne => left != right,
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
        }
    }

    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    /// How the policy file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// `field op value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// A u32 field of the arguments (call) or results (reply).
    pub field: String,
    /// Comparison.
    pub op: Op,
    /// Right-hand side.
    pub value: u32,
}

/// One line of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Call or reply.
    pub dir: Direction,
    /// Program name, or None for `*`.
    pub subject: Option<String>,
    /// Endpoint name, or None for `*`.
    pub endpoint: Option<String>,
    /// Method name, or None for `*` / `Endpoint.*`.
    pub method: Option<String>,
    /// All must hold.
    pub constraints: Vec<Constraint>,
    /// 1-based line in the file (for the audit log's reason).
    pub line: usize,
}

impl Rule {
    /// Whether the rule's subject and target name this program and method (constraints are
    /// NOT looked at: that is for the caller).
    pub fn names(&self, dir: Direction, program: &str, endpoint: &str, method: &str) -> bool {
        self.dir == dir
            && self.subject.as_deref().is_none_or(|s| s == program)
            && self.endpoint.as_deref().is_none_or(|e| e == endpoint)
            && self.method.as_deref().is_none_or(|m| m == method)
    }
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Rules in file order.
    pub rules: Vec<Rule>,
    /// `connect` rules: who may ask the monitor for a dynamic channel to whom.
    pub connects: Vec<ConnectRule>,
}

/// `connect SUBJECT SERVER`: SUBJECT (a program, or `*`) may ask for a new channel whose
/// server end goes to the program SERVER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRule {
    /// Program name, or None for `*`.
    pub subject: Option<String>,
    /// The program that would hold the server end.
    pub server: String,
    /// 1-based line in the file.
    pub line: usize,
}

impl ConnectRule {
    /// Whether the rule lets `program` open a channel to `server`.
    pub fn allows(&self, program: &str, server: &str) -> bool {
        self.subject.as_deref().is_none_or(|s| s == program) && self.server == server
    }
}

/// A mistake in a policy file.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line does not parse or names something the IDL lacks.
    #[error("policy line {line}: {msg}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        msg: String,
    },
}

fn syntax(line: usize, msg: impl Into<String>) -> PolicyError {
    PolicyError::Syntax {
        line,
        msg: msg.into(),
    }
}

fn field_is_u32(m: &Method, dir: Direction, field: &str) -> Option<bool> {
    let fields = match dir {
        Direction::Call => &m.inputs,
        Direction::Reply => &m.outputs,
    };
    fields
        .iter()
        .find(|f| f.name == field)
        .map(|f| f.ty == Type::U32)
}

impl Policy {
    /// Parses policy text, checking names against `idl`.
    pub fn parse(text: &str, idl: &Idl) -> Result<Policy, PolicyError> {
        let mut rules = Vec::new();
        let mut connects = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.split('#').next().unwrap_or("").trim();
            if l.is_empty() {
                continue;
            }
            let words: Vec<&str> = l.split_whitespace().collect();
            if words.len() < 3 {
                return Err(syntax(
                    line,
                    "write `call|reply PROGRAM Endpoint.Method [where ...]`",
                ));
            }
            if words[0] == "connect" {
                if words.len() != 3 || words[2] == "*" {
                    return Err(syntax(line, "write `connect PROGRAM SERVER-PROGRAM`"));
                }
                connects.push(ConnectRule {
                    subject: (words[1] != "*").then(|| words[1].to_owned()),
                    server: words[2].to_owned(),
                    line,
                });
                continue;
            }
            let dir = match words[0] {
                "call" => Direction::Call,
                "reply" => Direction::Reply,
                w => {
                    return Err(syntax(
                        line,
                        format!("`{w}`: a rule starts with call or reply"),
                    ));
                }
            };
            let subject = (words[1] != "*").then(|| words[1].to_owned());
            let (endpoint, method) = if words[2] == "*" {
                (None, None)
            } else {
                let (e, m) = words[2].split_once('.').ok_or_else(|| {
                    syntax(line, format!("`{}`: write Endpoint.Method", words[2]))
                })?;
                let ep = idl
                    .endpoint_named(e)
                    .ok_or_else(|| syntax(line, format!("no endpoint `{e}` in the IDL")))?;
                if m != "*" && ep.method_named(m).is_none() {
                    return Err(syntax(line, format!("endpoint `{e}` has no method `{m}`")));
                }
                (Some(e.to_owned()), (m != "*").then(|| m.to_owned()))
            };
            let mut constraints = Vec::new();
            if words.len() > 3 {
                if words[3] != "where" {
                    return Err(syntax(line, format!("`{}`: expected `where`", words[3])));
                }
                let rest = &words[4..];
                if rest.is_empty() {
                    return Err(syntax(line, "`where` needs `field op number`"));
                }
                for (k, chunk) in rest.split(|w| *w == "and").enumerate() {
                    let [field, op, value] = chunk else {
                        return Err(syntax(
                            line,
                            format!("constraint {}: write `field op number`", k + 1),
                        ));
                    };
                    let op = Op::parse(op).ok_or_else(|| {
                        syntax(line, format!("`{op}`: use one of == != < <= > >="))
                    })?;
                    let value: u32 = value
                        .parse()
                        .map_err(|_| syntax(line, format!("`{value}` is not a u32 number")))?;
                    if let (Some(e), Some(m)) = (&endpoint, &method) {
                        let meth = idl
                            .endpoint_named(e)
                            .and_then(|ep| ep.method_named(m))
                            .ok_or_else(|| syntax(line, "unknown method"))?;
                        match field_is_u32(meth, dir, field) {
                            Some(true) => {}
                            Some(false) => {
                                return Err(syntax(line, format!("field `{field}` is not a u32")));
                            }
                            None => {
                                return Err(syntax(
                                    line,
                                    format!(
                                        "{e}.{m} has no {} field `{field}`",
                                        match dir {
                                            Direction::Call => "argument",
                                            Direction::Reply => "result",
                                        }
                                    ),
                                ));
                            }
                        }
                    }
                    constraints.push(Constraint {
                        field: (*field).to_owned(),
                        op,
                        value,
                    });
                }
            }
            rules.push(Rule {
                dir,
                subject,
                endpoint,
                method,
                constraints,
                line,
            });
        }
        Ok(Policy { rules, connects })
    }

    /// Reads and parses a policy file.
    pub fn load(path: &Path, idl: &Idl) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Policy::parse(&text, idl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules() {
        let idl = Idl::parse("endpoint Calc = 1\n method Add = 1 (a: u32, b: u32) -> (sum: u32)\n")
            .expect("idl");
        let p = Policy::parse(
            "call alice Calc.Add where a <= 10 and b != 0\nreply * *\n",
            &idl,
        )
        .expect("policy");
        assert_eq!(p.rules.len(), 2);
        assert_eq!(p.rules[0].constraints.len(), 2);
        assert!(p.rules[1].names(Direction::Reply, "x", "Calc", "Add"));
        assert!(Policy::parse("call alice Calc.Add where c < 1", &idl).is_err());
        assert!(Policy::parse("call alice Calc.Sub", &idl).is_err());
    }
}
