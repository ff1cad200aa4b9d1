//! The syntax tree of one config text: the rules of `grammar/nats.pest` that
//! matched, with their byte ranges, in document order. It is what the pest
//! parser produces, held flat (one vector, no reference counting), and it is
//! also what the hand-written scanner (`scan.rs`) produces, token for token,
//! so the value walk (`parse.rs`) reads one form whichever of the two made it.

use pest::Parser as _;

use super::grammar::{NatsConf, Rule};

/// Maps and arrays nested deeper than this are refused, so hostile input
/// cannot exhaust the stack of the recursive walks over the tree (the value
/// walk, the formatter). Every way from text to tree counts with one
/// [`Nesting`]: the scanner as it descends, the quick bracket scan before
/// pest, and [`Syntax::check_depth`] on whatever tree either parser made. So
/// no input can reach a walk deeper than this, whichever parser read it.
pub const MAX_DEPTH: usize = 64;

/// The one depth rule: a count of open maps and arrays.
#[derive(Debug, Default)]
pub struct Nesting {
    open: usize,
}

/// A map or array opened [`MAX_DEPTH`] levels deep already, at this byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    pub offset: usize,
}

impl Nesting {
    /// A map or array opens at `offset`.
    pub fn enter(&mut self, offset: usize) -> Result<(), TooDeep> {
        if self.open >= MAX_DEPTH {
            return Err(TooDeep { offset });
        }
        self.open += 1;
        Ok(())
    }

    /// The innermost open map or array closes.
    pub fn leave(&mut self) {
        self.open = self.open.saturating_sub(1);
    }
}

/// One matched rule. Children follow their parent; `next` is the index just
/// past the node's last descendant, i.e. of its next sibling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub rule: Rule,
    pub start: u32,
    pub end: u32,
    pub next: u32,
}

/// The matched rules of one text, root (`file`) first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Syntax {
    pub tokens: Vec<Token>,
}

impl Syntax {
    /// The grammar of record, run by pest.
    pub fn parse_with_pest(text: &str) -> Result<Syntax, Box<pest::error::Error<Rule>>> {
        let pairs = NatsConf::parse(Rule::file, text).map_err(Box::new)?;
        let mut tokens: Vec<Token> = Vec::new();
        // Indices of the nodes whose end has not been seen yet.
        let mut open: Vec<usize> = Vec::new();
        for t in pairs.tokens() {
            match t {
                pest::Token::Start { rule, pos } => {
                    open.push(tokens.len());
                    let at = pos.pos() as u32;
                    tokens.push(Token { rule, start: at, end: at, next: 0 });
                }
                pest::Token::End { pos, .. } => {
                    let next = tokens.len() as u32;
                    if let Some(t) = open.pop().and_then(|i| tokens.get_mut(i)) {
                        t.end = pos.pos() as u32;
                        t.next = next;
                    }
                }
            }
        }
        Ok(Syntax { tokens })
    }

    /// The depth rule on a finished tree, without recursion: the first map
    /// or array nested deeper than [`MAX_DEPTH`]. pest's own recursion is
    /// bounded by its stack guard ("stack limit reached"), not by depth, so
    /// its trees are held to the rule here before anything walks them.
    pub fn check_depth(&self) -> Result<(), TooDeep> {
        let mut nesting = Nesting::default();
        // Where each open map or array ends (the index of its next sibling).
        let mut ends: Vec<u32> = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            while ends.last().is_some_and(|&end| end as usize <= i) {
                ends.pop();
                nesting.leave();
            }
            if matches!(t.rule, Rule::map | Rule::array) {
                nesting.enter(t.start as usize)?;
                ends.push(t.next);
            }
        }
        Ok(())
    }

    /// The top-level nodes (for a whole file: one, `file`).
    pub fn roots<'t>(&'t self, text: &'t str) -> Children<'t> {
        Children { syntax: self, text, at: 0, end: self.tokens.len() }
    }
}

/// One node of a [`Syntax`], with the text it was parsed from.
#[derive(Clone, Copy)]
pub struct Node<'t> {
    syntax: &'t Syntax,
    text: &'t str,
    index: usize,
}

impl<'t> Node<'t> {
    fn token(&self) -> Token {
        self.syntax.tokens[self.index]
    }

    pub fn rule(&self) -> Rule {
        self.token().rule
    }

    pub fn start(&self) -> usize {
        self.token().start as usize
    }

    pub fn end(&self) -> usize {
        self.token().end as usize
    }

    /// The text the rule matched.
    pub fn as_str(&self) -> &'t str {
        let t = self.token();
        self.text.get(t.start as usize..t.end as usize).unwrap_or_default()
    }

    pub fn children(&self) -> Children<'t> {
        Children { syntax: self.syntax, text: self.text, at: self.index + 1, end: self.token().next as usize }
    }

    /// The first child (the one rule most nodes wrap).
    pub fn inner(&self) -> Option<Node<'t>> {
        self.children().next()
    }
}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}({}..{})", self.rule(), self.start(), self.end())
    }
}

/// The children of a node, in order.
pub struct Children<'t> {
    syntax: &'t Syntax,
    text: &'t str,
    at: usize,
    end: usize,
}

impl<'t> Iterator for Children<'t> {
    type Item = Node<'t>;

    fn next(&mut self) -> Option<Node<'t>> {
        if self.at >= self.end {
            return None;
        }
        let node = Node { syntax: self.syntax, text: self.text, index: self.at };
        // A malformed `next` (never made by either parser) must still end the walk.
        self.at = (self.syntax.tokens[self.at].next as usize).max(self.at + 1);
        Some(node)
    }
}
