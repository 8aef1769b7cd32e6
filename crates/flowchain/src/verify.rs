//! Chain verification: versions 1..N in order, each linked to the hash of the one before, each
//! signature recovering to its author. The report names the first bad version and why.

use std::fmt;

use crate::{Address, RecordHash, Signature, VersionRecord};

/// Why a version is bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The record (or file) is not a valid record; says what is wrong.
    Malformed(String),
    /// The file's bytes are not the record's canonical (JCS) bytes.
    NotCanonical,
    /// The version numbers are not 1, 2, 3, … in order.
    VersionGap {
        /// The version that should come here.
        expected: u32,
        /// The version found.
        found: u32,
    },
    /// `previous_hash` is not the hash of the previous record.
    BrokenLink {
        /// Hash of the previous record (`None` for version 1, which links to nothing).
        expected: Option<RecordHash>,
        /// The record's `previous_hash`.
        found: Option<RecordHash>,
    },
    /// The previous record could not be read, so this one's link cannot be checked.
    UnknownLink,
    /// The signature is unusable (bad encoding, high s, no public key recovers from it).
    BadSignature(String),
    /// The signature is valid but made by another key than `author_id`.
    WrongAuthor {
        /// The record's `author_id`.
        claimed: Address,
        /// Who actually signed.
        recovered: Address,
    },
    /// A signature without an `author_id`.
    SignatureWithoutAuthor,
    /// The record belongs to another workflow than version 1.
    WrongWorkflow {
        /// Version 1's workflow id.
        expected: String,
        /// This record's.
        found: String,
    },
}

impl Problem {
    /// A stable machine-readable name for the kind of problem (`bad_signature`, `wrong_author`,
    /// `broken_link`, …), for API clients that branch on it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::NotCanonical => "not_canonical",
            Self::VersionGap { .. } => "version_gap",
            Self::BrokenLink { .. } => "broken_link",
            Self::UnknownLink => "unknown_link",
            Self::BadSignature(_) => "bad_signature",
            Self::WrongAuthor { .. } => "wrong_author",
            Self::SignatureWithoutAuthor => "signature_without_author",
            Self::WrongWorkflow { .. } => "wrong_workflow",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hash = |h: &Option<RecordHash>| h.map_or("null".to_string(), |h| h.to_string());
        match self {
            Self::Malformed(why) => write!(f, "malformed: {why}"),
            Self::NotCanonical => {
                f.write_str("not canonical: the bytes are not the record's RFC 8785 (JCS) form")
            }
            Self::VersionGap { expected, found } => {
                write!(f, "version gap: expected version {expected}, found {found}")
            }
            Self::BrokenLink { expected, found } => write!(
                f,
                "broken link: previous_hash is {}, the previous record hashes to {}",
                hash(found),
                hash(expected)
            ),
            Self::UnknownLink => {
                f.write_str("link not checkable: the previous record is unreadable")
            }
            Self::BadSignature(why) => write!(f, "bad signature: {why}"),
            Self::WrongAuthor { claimed, recovered } => {
                write!(
                    f,
                    "wrong author: author_id is {claimed} but {recovered} signed"
                )
            }
            Self::SignatureWithoutAuthor => f.write_str("malformed: a signature but no author_id"),
            Self::WrongWorkflow { expected, found } => {
                write!(f, "wrong workflow: {found:?}, version 1 is {expected:?}")
            }
        }
    }
}

/// The verdict on a whole chain. Unsigned is never Valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    /// Every version is linked, in order, and signed by its author.
    Valid,
    /// Linked and in order, and every signature present is good, but some versions are unsigned.
    Unsigned {
        /// The first unsigned version.
        first: u32,
        /// How many are unsigned.
        count: usize,
    },
    /// A version is bad: the first one and why.
    Invalid {
        /// The first bad version (its position in the chain, 1-based, when its own number is
        /// unreadable).
        version: u32,
        /// What is wrong with it.
        problem: Problem,
    },
    /// There are no versions at all.
    Empty,
}

/// One problem at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionProblem {
    /// The version (or position) it concerns.
    pub version: u32,
    /// What is wrong.
    pub problem: Problem,
}

/// The result of verifying a chain: the verdict, every problem found, and the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// The verdict; `Invalid` names the first bad version.
    pub status: ChainStatus,
    /// All problems, in chain order (the first is the one in `status`).
    pub problems: Vec<VersionProblem>,
    /// Versions that are unsigned.
    pub unsigned: Vec<u32>,
    /// How many versions were checked.
    pub versions: usize,
    /// Hash of the last record (what the next save must name as `previous_hash`).
    pub head: Option<RecordHash>,
}

impl ChainReport {
    /// Whether the chain is fully valid (linked and every version signed).
    pub fn is_valid(&self) -> bool {
        self.status == ChainStatus::Valid
    }
}

/// What the verifier needs to know of one version, whatever its file format.
#[derive(Debug)]
pub(crate) struct Link {
    pub version: u32,
    pub workflow_id: Option<String>,
    pub author: Option<Address>,
    pub signature: Option<Signature>,
    pub previous: Option<RecordHash>,
    /// Hash that the next version must link to.
    pub hash: RecordHash,
    /// The signed message.
    pub signed: Vec<u8>,
    /// The signature check when done ahead (by [`verify_chain_parallel`]).
    pub checked: Option<Result<Option<Address>, Problem>>,
}

/// Checks versions one at a time, in chain order (so a server or a directory walk can stream).
#[derive(Debug, Default)]
pub(crate) struct ChainVerifier {
    position: u32,
    /// `Some(None)`: the next version must be 1 with no link; `None`: the previous is unreadable.
    previous: Option<Option<RecordHash>>,
    workflow_id: Option<String>,
    problems: Vec<VersionProblem>,
    unsigned: Vec<u32>,
}

impl ChainVerifier {
    pub fn new() -> Self {
        Self {
            previous: Some(None),
            ..Self::default()
        }
    }

    /// Feeds the next version, or the problem that made it unreadable.
    pub fn push(&mut self, link: Result<Link, Problem>) {
        self.push_numbered(self.position + 1, link);
    }

    /// Like [`ChainVerifier::push`] for a version whose number is known from outside (its file
    /// name), so an unreadable file is reported under that number.
    pub fn push_numbered(&mut self, number: u32, link: Result<Link, Problem>) {
        self.position += 1;
        let expected = self.position;
        let link = match link {
            Ok(l) => l,
            Err(problem) => {
                self.problems.push(VersionProblem {
                    version: number,
                    problem,
                });
                self.position = self.position.max(number);
                self.previous = None;
                return;
            }
        };
        let mut bad = |problem| {
            self.problems.push(VersionProblem {
                version: link.version,
                problem,
            })
        };
        if link.version != expected {
            bad(Problem::VersionGap {
                expected,
                found: link.version,
            });
            // Keep counting from what was found, so one missing version is one problem.
            self.position = link.version;
        }
        match (&self.workflow_id, &link.workflow_id) {
            (Some(first), Some(this)) if first != this => bad(Problem::WrongWorkflow {
                expected: first.clone(),
                found: this.clone(),
            }),
            _ => {}
        }
        match self.previous {
            None => bad(Problem::UnknownLink),
            Some(prev) if prev != link.previous => bad(Problem::BrokenLink {
                expected: prev,
                found: link.previous,
            }),
            Some(_) => {}
        }
        let checked = match link.checked {
            Some(done) => done,
            None => check_signature(link.author, link.signature, &link.signed),
        };
        match checked {
            Ok(Some(_)) => {}
            Ok(None) => self.unsigned.push(link.version),
            Err(problem) => bad(problem),
        }
        if self.workflow_id.is_none() {
            self.workflow_id = link.workflow_id;
        }
        self.previous = Some(Some(link.hash));
    }

    pub fn finish(self) -> ChainReport {
        let status = if let Some(first) = self.problems.first() {
            ChainStatus::Invalid {
                version: first.version,
                problem: first.problem.clone(),
            }
        } else if let Some(&first) = self.unsigned.first() {
            ChainStatus::Unsigned {
                first,
                count: self.unsigned.len(),
            }
        } else if self.position == 0 {
            ChainStatus::Empty
        } else {
            ChainStatus::Valid
        };
        ChainReport {
            status,
            problems: self.problems,
            unsigned: self.unsigned,
            versions: self.position as usize,
            head: self.previous.flatten(),
        }
    }
}

/// `Some(author)` when `signature` over `signed` recovers to `author`, `None` when unsigned.
fn check_signature(
    author: Option<Address>,
    signature: Option<Signature>,
    signed: &[u8],
) -> Result<Option<Address>, Problem> {
    match (author, signature) {
        (_, None) => Ok(None),
        (None, Some(_)) => Err(Problem::SignatureWithoutAuthor),
        (Some(claimed), Some(sig)) => match sig.recover(signed) {
            Ok(recovered) if recovered == claimed => Ok(Some(claimed)),
            Ok(recovered) => Err(Problem::WrongAuthor { claimed, recovered }),
            Err(e) => Err(Problem::BadSignature(e.to_string())),
        },
    }
}

impl VersionRecord {
    /// Checks this one record's signature (what a server does on save, before checking that
    /// the author may write and that `previous_hash` is its head): `Some(author)` when signed by
    /// `author_id`, `None` when unsigned, else the problem.
    pub fn verify_signature(&self) -> Result<Option<Address>, Problem> {
        let signed = self
            .signing_bytes()
            .map_err(|e| Problem::Malformed(e.to_string()))?;
        check_signature(self.author_id, self.signature, &signed)
    }

    /// The verifier's view of this record, or why it has none.
    pub(crate) fn link(&self) -> Result<Link, Problem> {
        let (signed, full) = self
            .encode()
            .map_err(|e| Problem::Malformed(e.to_string()))?;
        Ok(self.link_with(signed, RecordHash::of(&full)))
    }

    pub(crate) fn link_with(&self, signed: Vec<u8>, hash: RecordHash) -> Link {
        Link {
            version: self.version,
            workflow_id: Some(self.workflow_id.clone()),
            author: self.author_id,
            signature: self.signature,
            previous: self.previous_hash,
            hash,
            signed,
            checked: None,
        }
    }
}

/// Verifies a chain of records given in order (version 1 first).
pub fn verify_chain(records: &[VersionRecord]) -> ChainReport {
    let mut v = ChainVerifier::new();
    for r in records {
        v.push(r.link());
    }
    v.finish()
}

/// [`verify_chain`] over versions that may each have failed to load (a server's stored rows): a
/// version given as its problem is reported under its position, and the next one's link as
/// unknown.
pub fn verify_records(
    records: impl IntoIterator<Item = Result<VersionRecord, Problem>>,
) -> ChainReport {
    let mut v = ChainVerifier::new();
    for r in records {
        v.push(r.and_then(|r| r.link()));
    }
    v.finish()
}

/// [`verify_chain`] with the signatures (nearly all of the work) checked on up to `threads`
/// threads; the links are then checked in order. Same report. Blocking: from async code, call
/// it in `spawn_blocking`.
pub fn verify_chain_parallel(records: &[VersionRecord], threads: usize) -> ChainReport {
    let threads = threads.clamp(1, records.len().max(1));
    let chunk = records.len().div_ceil(threads).max(1);
    let links: Vec<Result<Link, Problem>> = std::thread::scope(|scope| {
        let workers: Vec<_> = records
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|r| {
                            r.link().map(|mut l| {
                                l.checked = Some(check_signature(l.author, l.signature, &l.signed));
                                l
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(links) => links,
                // A worker cannot panic on any input; if one did, say so rather than pass.
                Err(_) => vec![Err(Problem::Malformed("verification thread failed".into()))],
            })
            .collect()
    });
    let mut v = ChainVerifier::new();
    for link in links {
        v.push(link);
    }
    v.finish()
}
