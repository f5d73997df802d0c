//! The library's decision rules as pure functions of a boundary's events,
//! checked in the order WORKLOAD.md lists them (the first that applies
//! wins, so the order is part of the behaviour being reproduced).

use super::events::{LibraryEvent, MAX_BOOKS_PER_READER};
use std::collections::HashSet;

/// What a command decides from its boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Append,
    /// Already done: idempotent, nothing appended.
    NoOp,
    Reject(Rejection),
}

/// Why the domain refused; the text goes into FailureInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    BookNeverAdded,
    BookCurrentlyLent,
    ReaderNotRegistered,
    BookNotInCirculation,
    BookLentToAnotherReader,
    ReaderAtLimit,
    ReaderUnknown,
    BookUnknown,
    BookNotLentToReader,
    BooksOutstanding,
}

impl Rejection {
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::BookNeverAdded => "book copy was never added to circulation",
            Rejection::BookCurrentlyLent => "book copy is currently lent",
            Rejection::ReaderNotRegistered => "reader is not registered",
            Rejection::BookNotInCirculation => "book copy is not in circulation",
            Rejection::BookLentToAnotherReader => "book copy is lent to another reader",
            Rejection::ReaderAtLimit => "reader already holds the maximum number of books",
            Rejection::ReaderUnknown => "reader is unknown",
            Rejection::BookUnknown => "book copy is unknown",
            Rejection::BookNotLentToReader => "book copy is not lent to this reader",
            Rejection::BooksOutstanding => "reader still holds books",
        }
    }
}

#[derive(Default)]
struct Book {
    added: bool,
    in_circulation: bool,
    lent_to: Option<String>,
    ever_lent_to: HashSet<String>,
}

fn book(events: &[LibraryEvent], id: &str) -> Book {
    let mut b = Book::default();
    for e in events {
        match e {
            LibraryEvent::Added { book } if book == id => {
                b.added = true;
                b.in_circulation = true;
            }
            LibraryEvent::Removed { book } if book == id => b.in_circulation = false,
            LibraryEvent::Lent { book, reader } if book == id => {
                b.lent_to = Some(reader.clone());
                b.ever_lent_to.insert(reader.clone());
            }
            LibraryEvent::Returned { book, .. } if book == id => b.lent_to = None,
            _ => {}
        }
    }
    b
}

#[derive(Default)]
struct Reader {
    registered: bool,
    canceled: bool,
    holding: HashSet<String>,
}

fn reader(events: &[LibraryEvent], id: &str) -> Reader {
    let mut r = Reader::default();
    for e in events {
        match e {
            LibraryEvent::Registered { reader } if reader == id => r.registered = true,
            LibraryEvent::Canceled { reader } if reader == id => r.canceled = true,
            LibraryEvent::Lent { book, reader } if reader == id => {
                r.holding.insert(book.clone());
            }
            LibraryEvent::Returned { book, reader } if reader == id => {
                r.holding.remove(book);
            }
            _ => {}
        }
    }
    r
}

pub fn add_book_copy(events: &[LibraryEvent], book_id: &str) -> Verdict {
    if book(events, book_id).in_circulation {
        return Verdict::NoOp;
    }
    Verdict::Append
}

pub fn remove_book_copy(events: &[LibraryEvent], book_id: &str) -> Verdict {
    let b = book(events, book_id);
    if !b.added {
        Verdict::Reject(Rejection::BookNeverAdded)
    } else if !b.in_circulation {
        Verdict::NoOp
    } else if b.lent_to.is_some() {
        Verdict::Reject(Rejection::BookCurrentlyLent)
    } else {
        Verdict::Append
    }
}

pub fn lend(events: &[LibraryEvent], book_id: &str, reader_id: &str) -> Verdict {
    let r = reader(events, reader_id);
    let b = book(events, book_id);
    if !r.registered || r.canceled {
        Verdict::Reject(Rejection::ReaderNotRegistered)
    } else if !b.in_circulation {
        Verdict::Reject(Rejection::BookNotInCirculation)
    } else if b.lent_to.as_deref() == Some(reader_id) {
        Verdict::NoOp
    } else if b.lent_to.is_some() {
        Verdict::Reject(Rejection::BookLentToAnotherReader)
    } else if r.holding.len() >= MAX_BOOKS_PER_READER {
        Verdict::Reject(Rejection::ReaderAtLimit)
    } else {
        Verdict::Append
    }
}

/// "Already returned" is a copy that was lent to this reader and is no
/// longer: a repeated return is idempotent, a return of a copy the reader
/// never had is refused.
pub fn return_copy(events: &[LibraryEvent], book_id: &str, reader_id: &str) -> Verdict {
    let r = reader(events, reader_id);
    let b = book(events, book_id);
    if !r.registered {
        Verdict::Reject(Rejection::ReaderUnknown)
    } else if !b.added {
        Verdict::Reject(Rejection::BookUnknown)
    } else if !b.ever_lent_to.contains(reader_id) {
        Verdict::Reject(Rejection::BookNotLentToReader)
    } else if b.lent_to.as_deref() != Some(reader_id) {
        Verdict::NoOp
    } else {
        Verdict::Append
    }
}

pub fn register_reader(events: &[LibraryEvent], reader_id: &str) -> Verdict {
    let r = reader(events, reader_id);
    if r.registered && !r.canceled {
        return Verdict::NoOp;
    }
    Verdict::Append
}

pub fn cancel_reader_contract(events: &[LibraryEvent], reader_id: &str) -> Verdict {
    let r = reader(events, reader_id);
    if !r.registered {
        Verdict::Reject(Rejection::ReaderUnknown)
    } else if r.canceled {
        Verdict::NoOp
    } else if !r.holding.is_empty() {
        Verdict::Reject(Rejection::BooksOutstanding)
    } else {
        Verdict::Append
    }
}

#[cfg(test)]
mod tests {
    use super::super::events::fixtures::*;
    use super::*;
    use Rejection::*;
    use Verdict::*;

    fn holding_ten(r: &str) -> Vec<LibraryEvent> {
        (0..10).map(|i| lent(&format!("x{i}"), r)).collect()
    }

    #[test]
    fn add_and_remove() {
        let cases: Vec<(&str, Vec<LibraryEvent>, Verdict, Verdict)> = vec![
            ("nothing yet", vec![], Append, Reject(BookNeverAdded)),
            ("in circulation", vec![added("b")], NoOp, Append),
            ("removed", vec![added("b"), removed("b")], Append, NoOp),
            (
                "lent",
                vec![added("b"), lent("b", "r")],
                NoOp,
                Reject(BookCurrentlyLent),
            ),
            (
                "returned",
                vec![added("b"), lent("b", "r"), returned("b", "r")],
                NoOp,
                Append,
            ),
            (
                "another book",
                vec![added("c")],
                Append,
                Reject(BookNeverAdded),
            ),
        ];
        for (name, events, add, remove) in cases {
            assert_eq!(add_book_copy(&events, "b"), add, "add: {name}");
            assert_eq!(remove_book_copy(&events, "b"), remove, "remove: {name}");
        }
    }

    #[test]
    fn lending_rules_in_order() {
        let base = || vec![registered("r"), added("b")];
        let with = |extra: Vec<LibraryEvent>| {
            let mut v = base();
            v.extend(extra);
            v
        };
        let cases: Vec<(&str, Vec<LibraryEvent>, Verdict)> = vec![
            ("ok", base(), Append),
            (
                "reader unknown, book unknown: reader first",
                vec![],
                Reject(ReaderNotRegistered),
            ),
            (
                "reader canceled",
                with(vec![canceled("r")]),
                Reject(ReaderNotRegistered),
            ),
            (
                "book never added",
                vec![registered("r")],
                Reject(BookNotInCirculation),
            ),
            (
                "book removed",
                with(vec![removed("b")]),
                Reject(BookNotInCirculation),
            ),
            (
                "already lent to this reader",
                with(vec![lent("b", "r")]),
                NoOp,
            ),
            (
                "lent to another",
                with(vec![lent("b", "s")]),
                Reject(BookLentToAnotherReader),
            ),
            (
                "returned by another",
                with(vec![lent("b", "s"), returned("b", "s")]),
                Append,
            ),
            (
                "reader at limit",
                with(holding_ten("r")),
                Reject(ReaderAtLimit),
            ),
            (
                "at limit and lent to another: another first",
                with([holding_ten("r"), vec![lent("b", "s")]].concat()),
                Reject(BookLentToAnotherReader),
            ),
            (
                "one returned under the limit",
                with([holding_ten("r"), vec![returned("x0", "r")]].concat()),
                Append,
            ),
        ];
        for (name, events, want) in cases {
            assert_eq!(lend(&events, "b", "r"), want, "{name}");
        }
    }

    #[test]
    fn return_rules_in_order() {
        let base = || vec![registered("r"), added("b")];
        let with = |extra: Vec<LibraryEvent>| {
            let mut v = base();
            v.extend(extra);
            v
        };
        let cases: Vec<(&str, Vec<LibraryEvent>, Verdict)> = vec![
            ("lent to reader", with(vec![lent("b", "r")]), Append),
            (
                "reader unknown",
                vec![added("b"), lent("b", "r")],
                Reject(ReaderUnknown),
            ),
            ("book unknown", vec![registered("r")], Reject(BookUnknown)),
            ("never lent", base(), Reject(BookNotLentToReader)),
            (
                "lent to another",
                with(vec![lent("b", "s")]),
                Reject(BookNotLentToReader),
            ),
            (
                "already returned",
                with(vec![lent("b", "r"), returned("b", "r")]),
                NoOp,
            ),
        ];
        for (name, events, want) in cases {
            assert_eq!(return_copy(&events, "b", "r"), want, "{name}");
        }
    }

    #[test]
    fn reader_rules() {
        let cases: Vec<(&str, Vec<LibraryEvent>, Verdict, Verdict)> = vec![
            ("unknown", vec![], Append, Reject(ReaderUnknown)),
            ("registered", vec![registered("r")], NoOp, Append),
            (
                "canceled",
                vec![registered("r"), canceled("r")],
                Append,
                NoOp,
            ),
            (
                "holding",
                vec![registered("r"), lent("b", "r")],
                NoOp,
                Reject(BooksOutstanding),
            ),
            (
                "returned all",
                vec![registered("r"), lent("b", "r"), returned("b", "r")],
                NoOp,
                Append,
            ),
        ];
        for (name, events, register, cancel) in cases {
            assert_eq!(register_reader(&events, "r"), register, "register: {name}");
            assert_eq!(
                cancel_reader_contract(&events, "r"),
                cancel,
                "cancel: {name}"
            );
        }
    }
}
