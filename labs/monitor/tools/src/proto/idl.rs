//! The interface description language of the lab: which endpoints exist, their methods, and
//! the exact layout of each method's arguments and results.
//!
//! ```text
//! # comment
//! endpoint Calc = 1
//!   method Add = 1 (a: u32, b: u32) -> (sum: u32)
//! endpoint Store = 2
//!   method Put = 1 (key: str<16>, value: u32) -> ()
//! ```
//! Types: `u32` (4 bytes, little-endian) and `str<N>` (a u16 length, then N bytes of which
//! the first `length` are UTF-8 text; N at most 256). Fields are laid out in order, with no
//! padding, so every method has one exact argument size and one exact result size.
//!
//! This module describes and decodes; it must never make a policy decision.

use std::path::Path;

use super::wire::{HEADER_LEN, MAX_MESSAGE};

/// Largest capacity of a `str<N>` field.
pub const MAX_STR: usize = 256;

/// A field type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// 4 bytes, little-endian.
    U32,
    /// u16 length then N bytes.
    Str(usize),
}

impl Type {
    /// Bytes the field takes in a payload.
    pub fn size(self) -> usize {
        match self {
            Type::U32 => 4,
            Type::Str(n) => 2 + n,
        }
    }
}

/// A named field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Name, as policies refer to it.
    pub name: String,
    /// Type.
    pub ty: Type,
}

/// A decoded field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A u32 field.
    U32(u32),
    /// A string field.
    Str(String),
}

/// A method of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// Name (`Add`).
    pub name: String,
    /// MID.
    pub id: u32,
    /// Arguments, in order.
    pub inputs: Vec<Field>,
    /// Results, in order.
    pub outputs: Vec<Field>,
}

impl Method {
    /// Exact payload size of a request.
    pub fn input_size(&self) -> usize {
        self.inputs.iter().map(|f| f.ty.size()).sum()
    }
    /// Exact payload size of a reply.
    pub fn output_size(&self) -> usize {
        self.outputs.iter().map(|f| f.ty.size()).sum()
    }
}

/// An endpoint (an interface a server offers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Name (`Calc`).
    pub name: String,
    /// RIID.
    pub id: u32,
    /// Methods.
    pub methods: Vec<Method>,
}

impl Endpoint {
    /// The method with that MID.
    pub fn method(&self, mid: u32) -> Option<&Method> {
        self.methods.iter().find(|m| m.id == mid)
    }
    /// The method with that name.
    pub fn method_named(&self, name: &str) -> Option<&Method> {
        self.methods.iter().find(|m| m.name == name)
    }
}

/// A whole interface description.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Idl {
    /// Endpoints, in file order.
    pub endpoints: Vec<Endpoint>,
}

/// A mistake in an IDL file.
#[derive(Debug, thiserror::Error)]
pub enum IdlError {
    /// The file could not be read.
    #[error("cannot read interface description {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line does not parse.
    #[error("interface description line {line}: {msg}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong and what to write instead.
        msg: String,
    },
}

/// Why a payload does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The payload is not the size the fields add up to.
    #[error("payload is {got} bytes, the method needs exactly {need}")]
    Size {
        /// Bytes given.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// A string's length exceeds its capacity or its bytes are not UTF-8.
    #[error("field {field}: {msg}")]
    Field {
        /// The field's name.
        field: String,
        /// What is wrong.
        msg: String,
    },
}

impl FieldError {
    /// The monitor code for this error.
    pub fn code(&self) -> u32 {
        match self {
            FieldError::Size { .. } => super::codes::EBADSIZE,
            FieldError::Field { .. } => super::codes::EBADFIELD,
        }
    }
}

/// Decodes a payload laid out as `fields`.
pub fn decode(fields: &[Field], payload: &[u8]) -> Result<Vec<(String, Value)>, FieldError> {
    let need: usize = fields.iter().map(|f| f.ty.size()).sum();
    if payload.len() != need {
        return Err(FieldError::Size {
            got: payload.len(),
            need,
        });
    }
    let mut at = 0;
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let bytes = &payload[at..at + f.ty.size()];
        at += f.ty.size();
        let v = match f.ty {
            Type::U32 => Value::U32(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
            Type::Str(cap) => {
                let n = usize::from(u16::from_le_bytes([bytes[0], bytes[1]]));
                if n > cap {
                    return Err(FieldError::Field {
                        field: f.name.clone(),
                        msg: format!("string length {n} exceeds its capacity {cap}"),
                    });
                }
                match std::str::from_utf8(&bytes[2..2 + n]) {
                    Ok(s) => Value::Str(s.to_owned()),
                    Err(_) => {
                        return Err(FieldError::Field {
                            field: f.name.clone(),
                            msg: "string is not UTF-8".to_owned(),
                        });
                    }
                }
            }
        };
        out.push((f.name.clone(), v));
    }
    Ok(out)
}

/// Encodes `values` (one per field, in order) as a payload.
pub fn encode(fields: &[Field], values: &[Value]) -> Result<Vec<u8>, FieldError> {
    if fields.len() != values.len() {
        return Err(FieldError::Size {
            got: values.len(),
            need: fields.len(),
        });
    }
    let mut out = Vec::new();
    for (f, v) in fields.iter().zip(values) {
        match (f.ty, v) {
            (Type::U32, Value::U32(x)) => out.extend_from_slice(&x.to_le_bytes()),
            (Type::Str(cap), Value::Str(s)) => {
                if s.len() > cap {
                    return Err(FieldError::Field {
                        field: f.name.clone(),
                        msg: format!("string of {} bytes exceeds its capacity {cap}", s.len()),
                    });
                }
                let n = u16::try_from(s.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&n.to_le_bytes());
                out.extend_from_slice(s.as_bytes());
                out.resize(out.len() + cap - s.len(), 0);
            }
            _ => {
                return Err(FieldError::Field {
                    field: f.name.clone(),
                    msg: "value of the wrong type".to_owned(),
                });
            }
        }
    }
    Ok(out)
}

fn syntax(line: usize, msg: impl Into<String>) -> IdlError {
    IdlError::Syntax {
        line,
        msg: msg.into(),
    }
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|x| x.is_ascii_alphabetic())
        && s.chars().all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn parse_type(line: usize, t: &str) -> Result<Type, IdlError> {
    if t == "u32" {
        return Ok(Type::U32);
    }
    if let Some(n) = t.strip_prefix("str<").and_then(|r| r.strip_suffix('>')) {
        let n: usize = n
            .parse()
            .map_err(|_| syntax(line, format!("bad capacity in `{t}`")))?;
        if n == 0 || n > MAX_STR {
            return Err(syntax(
                line,
                format!("`{t}`: capacity must be 1..={MAX_STR}"),
            ));
        }
        return Ok(Type::Str(n));
    }
    Err(syntax(
        line,
        format!("unknown type `{t}`: use u32 or str<N>"),
    ))
}

fn parse_fields(line: usize, inner: &str) -> Result<Vec<Field>, IdlError> {
    let mut out: Vec<Field> = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, ty) = part
            .split_once(':')
            .ok_or_else(|| syntax(line, format!("field `{part}`: write `name: type`")))?;
        let (name, ty) = (name.trim(), ty.trim());
        if !is_name(name) {
            return Err(syntax(line, format!("bad field name `{name}`")));
        }
        if out.iter().any(|f| f.name == name) {
            return Err(syntax(line, format!("field `{name}` appears twice")));
        }
        out.push(Field {
            name: name.to_owned(),
            ty: parse_type(line, ty)?,
        });
    }
    Ok(out)
}

fn parse_id(line: usize, s: &str) -> Result<u32, IdlError> {
    match s.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(syntax(
            line,
            format!("id `{}` must be a number from 1", s.trim()),
        )),
    }
}

/// `Name = id` → (Name, id).
fn name_and_id<'a>(line: usize, s: &'a str, what: &str) -> Result<(&'a str, u32), IdlError> {
    let (name, id) = s
        .split_once('=')
        .ok_or_else(|| syntax(line, format!("write `{what} Name = id`")))?;
    let name = name.trim();
    if !is_name(name) {
        return Err(syntax(line, format!("bad {what} name `{name}`")));
    }
    Ok((name, parse_id(line, id)?))
}

impl Idl {
    /// Parses IDL text.
    pub fn parse(text: &str) -> Result<Idl, IdlError> {
        let mut idl = Idl::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.split('#').next().unwrap_or("").trim();
            if l.is_empty() {
                continue;
            }
            if let Some(rest) = l.strip_prefix("endpoint ") {
                let (name, id) = name_and_id(line, rest, "endpoint")?;
                if idl.endpoints.iter().any(|e| e.id == id || e.name == name) {
                    return Err(syntax(
                        line,
                        format!("endpoint `{name}` or id {id} defined twice"),
                    ));
                }
                idl.endpoints.push(Endpoint {
                    name: name.to_owned(),
                    id,
                    methods: Vec::new(),
                });
            } else if let Some(rest) = l.strip_prefix("method ") {
                let ep = idl
                    .endpoints
                    .last_mut()
                    .ok_or_else(|| syntax(line, "a method must follow an `endpoint` line"))?;
                let (head, sig) = rest
                    .split_once('(')
                    .ok_or_else(|| syntax(line, "write `method Name = id (args) -> (results)`"))?;
                let (name, id) = name_and_id(line, head, "method")?;
                let (args, results) = sig
                    .split_once(")")
                    .ok_or_else(|| syntax(line, "missing `)` after the arguments"))?;
                let results = results
                    .trim()
                    .strip_prefix("->")
                    .map(str::trim)
                    .and_then(|r| r.strip_prefix('('))
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| syntax(line, "write the results as `-> (name: type, ...)`"))?;
                if ep.methods.iter().any(|m| m.id == id || m.name == name) {
                    return Err(syntax(
                        line,
                        format!("method `{name}` or id {id} defined twice"),
                    ));
                }
                let m = Method {
                    name: name.to_owned(),
                    id,
                    inputs: parse_fields(line, args)?,
                    outputs: parse_fields(line, results)?,
                };
                let limit = MAX_MESSAGE - HEADER_LEN;
                if m.input_size() > limit || m.output_size() > limit {
                    return Err(syntax(
                        line,
                        format!("method `{name}` exceeds {limit} bytes"),
                    ));
                }
                ep.methods.push(m);
            } else {
                return Err(syntax(
                    line,
                    format!("expected `endpoint` or `method`, got `{l}`"),
                ));
            }
        }
        Ok(idl)
    }

    /// Reads and parses an IDL file.
    pub fn load(path: &Path) -> Result<Idl, IdlError> {
        let text = std::fs::read_to_string(path).map_err(|source| IdlError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Idl::parse(&text)
    }

    /// The endpoint with that RIID.
    pub fn endpoint(&self, riid: u32) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.id == riid)
    }

    /// The endpoint with that name.
    pub fn endpoint_named(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// `Endpoint.Method` → (endpoint, method).
    pub fn lookup(&self, dotted: &str) -> Option<(&Endpoint, &Method)> {
        let (e, m) = dotted.split_once('.')?;
        let ep = self.endpoint_named(e)?;
        Some((ep, ep.method_named(m)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lays_out() {
        let idl = Idl::parse(
            "endpoint Calc = 1\n  method Add = 1 (a: u32, b: u32) -> (sum: u32)\n\
             endpoint Store = 2\n method Get = 2 (key: str<16>) -> (value: u32)\n",
        )
        .expect("valid idl");
        let (_, get) = idl.lookup("Store.Get").expect("Store.Get");
        assert_eq!(get.input_size(), 18);
        let p = encode(&get.inputs, &[Value::Str("k1".into())]).expect("encodes");
        assert_eq!(p.len(), 18);
        assert_eq!(
            decode(&get.inputs, &p),
            Ok(vec![("key".into(), Value::Str("k1".into()))])
        );
        let mut bad = p.clone();
        bad[0] = 40;
        assert_eq!(decode(&get.inputs, &bad).map_err(|e| e.code()), Err(7));
        assert!(Idl::parse("method X = 1 () -> ()").is_err());
    }
}
