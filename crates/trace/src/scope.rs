//! The header's scope tree: declared signals with sanitised dotted scopes,
//! grouped into nested `$scope module` sections in first-declaration order.

use crate::writer::Slot;
use std::io::Write;

/// A signal as declared.
#[derive(Clone, Debug)]
pub(crate) struct Decl {
    /// Scope path, already split and sanitised (empty: top level).
    pub(crate) scope: Vec<String>,
    /// Sanitised variable name.
    pub(crate) name: String,
    /// Bits; 0 for a `real` variable.
    pub(crate) width: u32,
}

impl Decl {
    /// A signal `name` of `width` bits in the dotted `scope`, both
    /// sanitised; empty scope parts are dropped.
    pub(crate) fn new(scope: &str, name: &str, width: u32) -> Decl {
        Decl {
            scope: scope
                .split('.')
                .filter(|p| !p.is_empty())
                .map(sanitise)
                .collect(),
            name: sanitise(name),
            width,
        }
    }

    /// The dotted full name, e.g. `chip.tile0.busy`.
    pub(crate) fn full_name(&self) -> String {
        let mut s = String::new();
        for p in &self.scope {
            s.push_str(p);
            s.push('.');
        }
        s.push_str(&self.name);
        s
    }
}

/// A scope or variable name safe in a VCD header: whitespace, control
/// characters and `$` become `_`; an empty name becomes `_`.
fn sanitise(name: &str) -> String {
    if name.is_empty() {
        return "_".to_string();
    }
    name.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == '$' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// One node of the scope tree written in the header.
#[derive(Default)]
pub(crate) struct ScopeNode {
    name: String,
    /// Variables (by declaration index) and sub-scopes (by node index), in
    /// first-declaration order.
    items: Vec<ScopeItem>,
}

/// An entry of a [`ScopeNode`].
pub(crate) enum ScopeItem {
    Var(usize),
    Scope(usize),
}

/// The scope tree of the `selected` declarations, in first-declaration
/// order; node 0 is the top level.
pub(crate) fn tree(decls: &[Decl], selected: &[bool]) -> Vec<ScopeNode> {
    let mut nodes = vec![ScopeNode::default()];
    for (i, d) in decls.iter().enumerate().filter(|(i, _)| selected[*i]) {
        let mut at = 0;
        for part in &d.scope {
            let found = nodes[at].items.iter().find_map(|it| match it {
                ScopeItem::Scope(c) if nodes[*c].name == *part => Some(*c),
                _ => None,
            });
            at = match found {
                Some(c) => c,
                None => {
                    nodes.push(ScopeNode {
                        name: part.clone(),
                        items: Vec::new(),
                    });
                    let c = nodes.len() - 1;
                    nodes[at].items.push(ScopeItem::Scope(c));
                    c
                }
            };
        }
        nodes[at].items.push(ScopeItem::Var(i));
    }
    nodes
}

/// Writes the items of scope `node` (node 0 is the top level, itself not
/// written as a scope).
pub(crate) fn write_scope<W: Write>(
    out: &mut W,
    nodes: &[ScopeNode],
    node: usize,
    decls: &[Decl],
    slots: &[Slot],
) -> std::io::Result<()> {
    for item in &nodes[node].items {
        match *item {
            ScopeItem::Var(i) => {
                let (d, code) = (&decls[i], slots[i].code());
                let code = std::str::from_utf8(code).expect("ASCII code");
                if d.width == 0 {
                    writeln!(out, "$var real 64 {code} {} $end", d.name)?;
                } else {
                    writeln!(out, "$var wire {} {code} {} $end", d.width, d.name)?;
                }
            }
            ScopeItem::Scope(c) => {
                writeln!(out, "$scope module {} $end", nodes[c].name)?;
                write_scope(out, nodes, c, decls, slots)?;
                writeln!(out, "$upscope $end")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitised_names() {
        assert_eq!(sanitise("a b\tc$end"), "a_b_c_end");
        assert_eq!(sanitise(""), "_");
        assert_eq!(sanitise("row[3:0]"), "row[3:0]");
    }

    #[test]
    fn declarations_share_scopes_in_first_declaration_order() {
        let decls = [
            Decl::new("chip.tile0", "busy", 1),
            Decl::new("controller", "phase", 2),
            Decl::new(".chip..tile0.", "adc busy", 1),
            Decl::new("", "top", 0),
        ];
        assert_eq!(decls[2].full_name(), "chip.tile0.adc_busy");
        let nodes = tree(&decls, &[true, false, true, true]);
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["", "chip", "tile0"]);
        assert!(matches!(
            nodes[0].items[..],
            [ScopeItem::Scope(1), ScopeItem::Var(3)]
        ));
        assert!(matches!(
            nodes[2].items[..],
            [ScopeItem::Var(0), ScopeItem::Var(2)]
        ));
    }
}
