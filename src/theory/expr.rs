//! A small, safe expression language for user weightings w(λ), evaluated with its derivative.
//!
//! Grammar (usual precedence; `^` binds tighter than unary minus and is right-associative, so
//! `-l^2` is -(l²) and `2^-l` is 2^(-l)):
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/') unary)*
//! unary   := ('-' | '+') unary | power
//! power   := primary ('^' unary)?
//! primary := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'
//! ```
//!
//! Names: `lambda` or `l` (the log-SNR), `pi`, `e`. Functions: exp log sqrt abs sigmoid softplus
//! sech cosh tanh sinh (one argument), min max (two), normpdf normcdf (one argument x, or three:
//! x, mean, std). Evaluation carries forward-mode derivatives (dual numbers), so dw/dλ is exact
//! wherever w is differentiable.

use super::error::TheoryError;
use super::numeric::{normal_cdf, normal_pdf, sech, sigmoid, softplus};

/// Longest expression accepted, in characters.
pub const MAX_EXPRESSION_LEN: usize = 2000;
/// Deepest nesting accepted (parentheses, unary signs, calls), so parsing cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

const FUNCTIONS: [&str; 14] = [
    "exp", "log", "sqrt", "abs", "sigmoid", "softplus", "sech", "cosh", "tanh", "sinh", "min",
    "max", "normpdf", "normcdf",
];

fn accepted_names() -> String {
    format!(
        "lambda (or l), pi, e, and the functions {}",
        FUNCTIONS.join(", ")
    )
}

/// A value and its derivative with respect to λ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dual {
    pub v: f64,
    pub d: f64,
}

impl Dual {
    fn constant(v: f64) -> Self {
        Self { v, d: 0.0 }
    }

    /// Applies a scalar function with derivative `df` at v (chain rule).
    fn chain(self, v: f64, df: f64) -> Self {
        Self {
            v,
            d: if self.d == 0.0 { 0.0 } else { df * self.d },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Exp,
    Log,
    Sqrt,
    Abs,
    Sigmoid,
    Softplus,
    Sech,
    Cosh,
    Tanh,
    Sinh,
    Min,
    Max,
    NormPdf,
    NormCdf,
}

impl Func {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "exp" => Self::Exp,
            "log" => Self::Log,
            "sqrt" => Self::Sqrt,
            "abs" => Self::Abs,
            "sigmoid" => Self::Sigmoid,
            "softplus" => Self::Softplus,
            "sech" => Self::Sech,
            "cosh" => Self::Cosh,
            "tanh" => Self::Tanh,
            "sinh" => Self::Sinh,
            "min" => Self::Min,
            "max" => Self::Max,
            "normpdf" => Self::NormPdf,
            "normcdf" => Self::NormCdf,
            _ => return None,
        })
    }

    fn arities(self) -> &'static [usize] {
        match self {
            Self::Min | Self::Max => &[2],
            Self::NormPdf | Self::NormCdf => &[1, 3],
            _ => &[1],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Num(f64),
    Lambda,
    Neg(Box<Node>),
    Add(Box<Node>, Box<Node>),
    Sub(Box<Node>, Box<Node>),
    Mul(Box<Node>, Box<Node>),
    Div(Box<Node>, Box<Node>),
    Pow(Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

/// A parsed expression w(λ).
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    source: String,
    root: Node,
}

impl Expr {
    /// Parses `source`; errors give the column and what was expected there.
    pub fn parse(source: &str) -> Result<Self, TheoryError> {
        if source.chars().count() > MAX_EXPRESSION_LEN {
            return Err(TheoryError::Expression(format!(
                "the expression is longer than {MAX_EXPRESSION_LEN} characters"
            )));
        }
        let tokens = tokenize(source)?;
        if tokens.len() == 1 {
            return Err(TheoryError::Expression(
                "the expression is empty; write a formula in lambda, e.g. sigmoid(-lambda + 2)"
                    .into(),
            ));
        }
        let mut parser = Parser {
            tokens,
            pos: 0,
            depth: 0,
        };
        let root = parser.expr()?;
        let next = parser.peek();
        if next.kind != Tok::End {
            return Err(parser.error_here("an operator (+ - * / ^) or the end of the expression"));
        }
        Ok(Self {
            source: source.to_string(),
            root,
        })
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// w(λ) and dw/dλ.
    pub fn eval(&self, lambda: f64) -> Dual {
        eval(&self.root, lambda)
    }
}

fn eval(node: &Node, lambda: f64) -> Dual {
    match node {
        Node::Num(v) => Dual::constant(*v),
        Node::Lambda => Dual { v: lambda, d: 1.0 },
        Node::Neg(a) => {
            let a = eval(a, lambda);
            Dual { v: -a.v, d: -a.d }
        }
        Node::Add(a, b) => {
            let (a, b) = (eval(a, lambda), eval(b, lambda));
            Dual {
                v: a.v + b.v,
                d: a.d + b.d,
            }
        }
        Node::Sub(a, b) => {
            let (a, b) = (eval(a, lambda), eval(b, lambda));
            Dual {
                v: a.v - b.v,
                d: a.d - b.d,
            }
        }
        Node::Mul(a, b) => {
            let (a, b) = (eval(a, lambda), eval(b, lambda));
            Dual {
                v: a.v * b.v,
                d: a.d * b.v + a.v * b.d,
            }
        }
        Node::Div(a, b) => {
            let (a, b) = (eval(a, lambda), eval(b, lambda));
            let v = a.v / b.v;
            Dual {
                v,
                d: (a.d - v * b.d) / b.v,
            }
        }
        Node::Pow(a, b) => {
            let (a, b) = (eval(a, lambda), eval(b, lambda));
            let v = a.v.powf(b.v);
            if b.d == 0.0 {
                // Constant exponent: works for negative bases with integer exponents too.
                let d = if a.d == 0.0 {
                    0.0
                } else {
                    b.v * a.v.powf(b.v - 1.0) * a.d
                };
                Dual { v, d }
            } else {
                Dual {
                    v,
                    d: v * (b.d * a.v.ln() + b.v * a.d / a.v),
                }
            }
        }
        Node::Call(f, args) => {
            let xs: Vec<Dual> = args.iter().map(|a| eval(a, lambda)).collect();
            call(*f, &xs)
        }
    }
}

fn call(f: Func, xs: &[Dual]) -> Dual {
    let x = xs[0];
    match f {
        Func::Exp => {
            let v = x.v.exp();
            x.chain(v, v)
        }
        Func::Log => x.chain(x.v.ln(), 1.0 / x.v),
        Func::Sqrt => {
            let v = x.v.sqrt();
            x.chain(v, 0.5 / v)
        }
        Func::Abs => x.chain(x.v.abs(), if x.v < 0.0 { -1.0 } else { 1.0 }),
        Func::Sigmoid => {
            let v = sigmoid(x.v);
            x.chain(v, v * sigmoid(-x.v))
        }
        Func::Softplus => x.chain(softplus(x.v), sigmoid(x.v)),
        Func::Sech => {
            let v = sech(x.v);
            x.chain(v, -v * x.v.tanh())
        }
        Func::Cosh => x.chain(x.v.cosh(), x.v.sinh()),
        Func::Sinh => x.chain(x.v.sinh(), x.v.cosh()),
        Func::Tanh => {
            let s = sech(x.v);
            x.chain(x.v.tanh(), s * s)
        }
        Func::Min => {
            if xs[0].v <= xs[1].v {
                xs[0]
            } else {
                xs[1]
            }
        }
        Func::Max => {
            if xs[0].v >= xs[1].v {
                xs[0]
            } else {
                xs[1]
            }
        }
        Func::NormPdf | Func::NormCdf => {
            // Standardise with dual arithmetic so mean and std may depend on λ too.
            let (u, std) = if xs.len() == 3 {
                let (m, s) = (xs[1], xs[2]);
                let diff = Dual {
                    v: x.v - m.v,
                    d: x.d - m.d,
                };
                let v = diff.v / s.v;
                (
                    Dual {
                        v,
                        d: (diff.d - v * s.d) / s.v,
                    },
                    s,
                )
            } else {
                (x, Dual::constant(1.0))
            };
            if f == Func::NormCdf {
                u.chain(normal_cdf(u.v), normal_pdf(u.v))
            } else {
                let p = normal_pdf(u.v);
                let g = u.chain(p, -u.v * p);
                // φ(u)/s.
                let v = g.v / std.v;
                Dual {
                    v,
                    d: (g.d - v * std.d) / std.v,
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Op(char),
    Open,
    Close,
    Comma,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    /// 1-based column of the first character.
    column: usize,
    text: String,
}

fn tokenize(source: &str) -> Result<Vec<Token>, TheoryError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // An exponent only when digits follow `e`/`E` (optionally signed).
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            let text: String = chars[start..i].iter().collect();
            let value: f64 = text.parse().map_err(|_| {
                TheoryError::Expression(format!("at column {column}: `{text}` is not a number"))
            })?;
            tokens.push(Token {
                kind: Tok::Num(value),
                column,
                text,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            tokens.push(Token {
                kind: Tok::Name(text.clone()),
                column,
                text,
            });
            continue;
        }
        let kind = match c {
            '+' | '-' | '*' | '/' | '^' => Tok::Op(c),
            '(' => Tok::Open,
            ')' => Tok::Close,
            ',' => Tok::Comma,
            _ => {
                return Err(TheoryError::Expression(format!(
                    "at column {column}: unexpected character `{c}`; use numbers, names, + - * / ^, parentheses and commas"
                )))
            }
        };
        tokens.push(Token {
            kind,
            column,
            text: c.to_string(),
        });
        i += 1;
    }
    tokens.push(Token {
        kind: Tok::End,
        column: chars.len() + 1,
        text: "end of expression".into(),
    });
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn error_here(&self, expected: &str) -> TheoryError {
        let token = self.peek();
        let found = if token.kind == Tok::End {
            "the end of the expression".to_string()
        } else {
            format!("`{}`", token.text)
        };
        TheoryError::Expression(format!(
            "at column {}: expected {expected}, found {found}",
            token.column
        ))
    }

    fn enter(&mut self) -> Result<(), TheoryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(TheoryError::Expression(format!(
                "at column {}: the expression nests deeper than {MAX_DEPTH} levels",
                self.peek().column
            )));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Node, TheoryError> {
        self.enter()?;
        let mut node = self.term()?;
        while let Tok::Op(op @ ('+' | '-')) = self.peek().kind {
            self.advance();
            let rhs = self.term()?;
            node = if op == '+' {
                Node::Add(Box::new(node), Box::new(rhs))
            } else {
                Node::Sub(Box::new(node), Box::new(rhs))
            };
        }
        self.depth -= 1;
        Ok(node)
    }

    fn term(&mut self) -> Result<Node, TheoryError> {
        let mut node = self.unary()?;
        while let Tok::Op(op @ ('*' | '/')) = self.peek().kind {
            self.advance();
            let rhs = self.unary()?;
            node = if op == '*' {
                Node::Mul(Box::new(node), Box::new(rhs))
            } else {
                Node::Div(Box::new(node), Box::new(rhs))
            };
        }
        Ok(node)
    }

    fn unary(&mut self) -> Result<Node, TheoryError> {
        match self.peek().kind {
            Tok::Op('-') => {
                self.advance();
                self.enter()?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Node::Neg(Box::new(inner)))
            }
            Tok::Op('+') => {
                self.advance();
                self.enter()?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(inner)
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Node, TheoryError> {
        let base = self.primary()?;
        if self.peek().kind == Tok::Op('^') {
            self.advance();
            self.enter()?;
            let exponent = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Pow(Box::new(base), Box::new(exponent)));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Node, TheoryError> {
        let token = self.peek().clone();
        match token.kind {
            Tok::Num(v) => {
                self.advance();
                Ok(Node::Num(v))
            }
            Tok::Open => {
                self.advance();
                let inner = self.expr()?;
                if self.peek().kind != Tok::Close {
                    return Err(self.error_here("`)`"));
                }
                self.advance();
                Ok(inner)
            }
            Tok::Name(name) => {
                self.advance();
                match name.as_str() {
                    "lambda" | "l" => return Ok(Node::Lambda),
                    "pi" => return Ok(Node::Num(std::f64::consts::PI)),
                    "e" => return Ok(Node::Num(std::f64::consts::E)),
                    _ => {}
                }
                let Some(func) = Func::from_name(&name) else {
                    return Err(TheoryError::Expression(format!(
                        "at column {}: unknown name `{name}`; accepted: {}",
                        token.column,
                        accepted_names()
                    )));
                };
                if self.peek().kind != Tok::Open {
                    return Err(self.error_here(&format!("`(` after the function `{name}`")));
                }
                self.advance();
                let mut args = vec![self.expr()?];
                while self.peek().kind == Tok::Comma {
                    self.advance();
                    args.push(self.expr()?);
                }
                if self.peek().kind != Tok::Close {
                    return Err(self.error_here("`,` or `)`"));
                }
                self.advance();
                if !func.arities().contains(&args.len()) {
                    let wanted: Vec<String> =
                        func.arities().iter().map(|n| n.to_string()).collect();
                    return Err(TheoryError::Expression(format!(
                        "at column {}: `{name}` takes {} argument(s), got {}",
                        token.column,
                        wanted.join(" or "),
                        args.len()
                    )));
                }
                Ok(Node::Call(func, args))
            }
            _ => Err(self.error_here("a number, `lambda`, a function call or `(`")),
        }
    }
}
