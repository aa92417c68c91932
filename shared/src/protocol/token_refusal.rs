//! Why our server refused a token: the first line of its HTTP 401 body, which `crm` reads to
//! say what to do next.

pub const UNKNOWN: &str = "unknown token";
pub const REVOKED: &str = "this token was revoked";
pub const EXPIRED: &str = "this token expired";
/// Its user was removed, or anything else: no better word for it.
pub const NOT_VALID: &str = "this token is not valid";
