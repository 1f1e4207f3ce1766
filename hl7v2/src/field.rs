//! Views below the segment: [`Field`], [`Repetition`], [`Component`], [`Subcomponent`].
//!
//! Each view is a borrowed slice of the message text plus its delimiters; splitting
//! happens only when a view is asked for its parts. MSH-1 and MSH-2 are literal: they
//! have no parts and their value is not unescaped.

use std::borrow::Cow;

use crate::path::{find_byte, nth_part};
use crate::{Delimiters, unescape};

/// Splits `raw` on `sep` (or not at all when `sep` is `None`).
#[derive(Debug, Clone)]
struct Parts<'m> {
    rest: Option<&'m str>,
    sep: Option<u8>,
}

impl<'m> Iterator for Parts<'m> {
    type Item = &'m str;

    fn next(&mut self) -> Option<&'m str> {
        let rest = self.rest?;
        match self.sep.and_then(|s| find_byte(s, rest.as_bytes())) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => self.rest.take(),
        }
    }
}

/// The parts of a view's text; a literal view is its own single part.
fn parts(raw: &str, literal: bool, sep: u8) -> Parts<'_> {
    Parts {
        rest: Some(raw),
        sep: (!literal).then_some(sep),
    }
}

/// Part `n` (1-based) of a view's text; a literal view has only part 1.
fn part(raw: &str, literal: bool, sep: u8, n: usize) -> Option<&str> {
    if literal {
        (n == 1).then_some(raw)
    } else {
        nth_part(raw, sep, n)
    }
}

macro_rules! view {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'m> {
            raw: &'m str,
            delimiters: &'m Delimiters,
            literal: bool,
        }

        impl<'m> $name<'m> {
            pub(crate) fn new(raw: &'m str, delimiters: &'m Delimiters, literal: bool) -> Self {
                $name { raw, delimiters, literal }
            }

            /// The text, still escaped.
            pub fn raw(&self) -> &'m str {
                self.raw
            }

            /// The text with escape sequences decoded.
            pub fn value(&self) -> Cow<'m, str> {
                if self.literal {
                    Cow::Borrowed(self.raw)
                } else {
                    unescape(self.raw, self.delimiters)
                }
            }

            /// Whether the text is empty.
            pub fn is_empty(&self) -> bool {
                self.raw.is_empty()
            }

            /// Whether the text is taken literally (MSH-1 and MSH-2): it has
            /// no parts and no escapes.
            pub fn is_literal(&self) -> bool {
                self.literal
            }

            /// The message's delimiters, which split and unescape the text.
            pub fn delimiters(&self) -> &'m Delimiters {
                self.delimiters
            }

        }
    };
}

view!(
    /// One field, all repetitions included.
    Field
);
view!(
    /// One repetition of a field.
    Repetition
);
view!(
    /// One component of a repetition.
    Component
);
view!(
    /// One subcomponent of a component.
    Subcomponent
);

impl<'m> Field<'m> {
    /// The repetitions, split on the repetition separator.
    pub fn repetitions(&self) -> impl Iterator<Item = Repetition<'m>> + use<'m> {
        let (d, literal) = (self.delimiters, self.literal);
        parts(self.raw, literal, d.repetition).map(move |r| Repetition::new(r, d, literal))
    }

    /// Repetition `n` (1-based).
    pub fn repetition(&self, n: usize) -> Option<Repetition<'m>> {
        let raw = part(self.raw, self.literal, self.delimiters.repetition, n)?;
        Some(Repetition::new(raw, self.delimiters, self.literal))
    }

    /// The components of the first repetition.
    pub fn components(&self) -> impl Iterator<Item = Component<'m>> + use<'m> {
        self.first().components()
    }

    /// Component `n` (1-based) of the first repetition.
    pub fn component(&self, n: usize) -> Option<Component<'m>> {
        self.first().component(n)
    }

    fn first(&self) -> Repetition<'m> {
        let raw = part(self.raw, self.literal, self.delimiters.repetition, 1).unwrap_or(self.raw);
        Repetition::new(raw, self.delimiters, self.literal)
    }
}

impl<'m> Repetition<'m> {
    /// The components, split on the component separator.
    pub fn components(&self) -> impl Iterator<Item = Component<'m>> + use<'m> {
        let (d, literal) = (self.delimiters, self.literal);
        parts(self.raw, literal, d.component).map(move |c| Component::new(c, d, literal))
    }

    /// Component `n` (1-based).
    pub fn component(&self, n: usize) -> Option<Component<'m>> {
        let raw = part(self.raw, self.literal, self.delimiters.component, n)?;
        Some(Component::new(raw, self.delimiters, self.literal))
    }
}

impl<'m> Component<'m> {
    /// The subcomponents, split on the subcomponent separator.
    pub fn subcomponents(&self) -> impl Iterator<Item = Subcomponent<'m>> + use<'m> {
        let (d, literal) = (self.delimiters, self.literal);
        parts(self.raw, literal, d.subcomponent).map(move |s| Subcomponent::new(s, d, literal))
    }

    /// Subcomponent `n` (1-based).
    pub fn subcomponent(&self, n: usize) -> Option<Subcomponent<'m>> {
        let raw = part(self.raw, self.literal, self.delimiters.subcomponent, n)?;
        Some(Subcomponent::new(raw, self.delimiters, self.literal))
    }
}
