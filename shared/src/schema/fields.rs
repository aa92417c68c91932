//! The fields of each kind of record: their stored shape and how they are validated.

use crate::model::{
    RecordKind, ACTIVITY_KINDS, ACTIVITY_STATUSES, DEAL_ROLES, GRADES, ORG_KINDS, QUOTE_STATUSES,
    RELATION_KINDS, USER_ROLES,
};

/// What values a labelled list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    Email,
    Phone,
}

/// The stored shape and validation of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A plain string, replaced whole.
    Str,
    /// A string that must be an e-mail address.
    Email,
    /// A string from a closed list of choices.
    Choice(&'static [&'static str]),
    /// An integer in a range.
    Int {
        min: i64,
        max: i64,
    },
    /// Integer minor units of the record's `currency`.
    Money,
    /// A quantity in thousandths of its unit, typed and shown as a decimal (`2.5`).
    Quantity,
    /// An ISO 4217 code.
    Currency,
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DDTHH:MM`, local time.
    DateTime,
    /// Minutes.
    Minutes,
    /// The id of another record of the given kind (`None`: contact or organization).
    Ref(Option<RecordKind>),
    /// Collaborative text, merged character by character.
    Text,
    /// A set of strings (a map whose keys are the members).
    Set,
    /// An ordered list of `{label, value}` maps.
    Labelled(LabelKind),
    /// A map from record id to a role (free text when `roles` is `None`).
    Links {
        target: RecordKind,
        roles: Option<&'static [&'static str]>,
    },
    /// A list of `{stage, from, at, by}` maps, appended to on every stage change.
    StageHistory,
}

impl FieldType {
    /// True for fields held as one scalar, where concurrent writes make a conflict.
    pub fn is_scalar(self) -> bool {
        !matches!(
            self,
            FieldType::Text
                | FieldType::Set
                | FieldType::Labelled(_)
                | FieldType::Links { .. }
                | FieldType::StageHistory
        )
    }
}

/// One field of a kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    /// The field must be present and non-empty.
    pub required: bool,
}

const fn f(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: false,
    }
}

const fn req(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: true,
    }
}

use super::merge::MERGED_INTO;
use FieldType::*;

const ORGANIZATION: &[FieldSpec] = &[
    req("name", Str),
    f("industry", Str),
    f("kind", Choice(ORG_KINDS)),
    f("website", Str),
    f("phones", Labelled(LabelKind::Phone)),
    f("emails", Labelled(LabelKind::Email)),
    f("address", Str),
    f("region", Str),
    f("parent", Ref(Some(RecordKind::Organization))),
    f("tags", Set),
    f("notes", Text),
    f(EXTERNAL_IDS_FIELD, Set),
    f(DEMO_FIELD, Bool),
    f(MERGED_INTO, Ref(Some(RecordKind::Organization))),
];

const CONTACT: &[FieldSpec] = &[
    req("name", Str),
    f("given_name", Str),
    f("family_name", Str),
    f("title", Str),
    f("department", Str),
    f("emails", Labelled(LabelKind::Email)),
    f("phones", Labelled(LabelKind::Phone)),
    f("address", Str),
    f(
        "orgs",
        Links {
            target: RecordKind::Organization,
            roles: None,
        },
    ),
    f("region", Str),
    f("tags", Set),
    f("notes", Text),
    f("do_not_call", Bool),
    // No marketing e-mail (`crm campaign` skips the contact; set by an unsubscribe).
    f("do_not_contact", Bool),
    f("source", Str),
    f(EXTERNAL_IDS_FIELD, Set),
    f(DEMO_FIELD, Bool),
    f(MERGED_INTO, Ref(Some(RecordKind::Contact))),
];

const RELATIONSHIP: &[FieldSpec] = &[
    req("from", Ref(None)),
    req("to", Ref(None)),
    req("kind", Choice(RELATION_KINDS)),
    f("notes", Text),
];

const STAGE_KEYS: &[&str] = &crate::model::Stage::KEYS;

const CASE: &[FieldSpec] = &[
    req("title", Str),
    f("org", Ref(Some(RecordKind::Organization))),
    f(
        "contacts",
        Links {
            target: RecordKind::Contact,
            roles: Some(DEAL_ROLES),
        },
    ),
    req("stage", Choice(STAGE_KEYS)),
    f("probability", Int { min: 0, max: 100 }),
    f("grade", Choice(GRADES)),
    f("interest", Int { min: 1, max: 5 }),
    f("amount", Money),
    f("currency", Currency),
    f("budget", Money),
    f("close_date", Date),
    f("competitors", Set),
    f("source", Str),
    f("region", Str),
    f("loss_reason", Str),
    f("lost_from_stage", Choice(STAGE_KEYS)),
    f("stage_history", StageHistory),
    f("steps_done", Set),
    f("handed_over_from", Str),
    f("notes", Text),
    f(DEMO_FIELD, Bool),
];

const ACTIVITY: &[FieldSpec] = &[
    req("kind", Choice(ACTIVITY_KINDS)),
    req("subject", Str),
    f("start", DateTime),
    f("end", DateTime),
    f("due", DateTime),
    f("status", Choice(ACTIVITY_STATUSES)),
    f("case", Ref(Some(RecordKind::Case))),
    f("contact", Ref(Some(RecordKind::Contact))),
    f("org", Ref(Some(RecordKind::Organization))),
    f("attendees", Set),
    f("location", Str),
    f("remind", Minutes),
    f("handed_over_from", Str),
    f("notes", Text),
    // What came of it, said when it is marked done (`crm activity done --outcome`, `crm log`).
    f("outcome", Str),
    // The first activity of a repeating series: every occurrence is a record of its own.
    f("series", Ref(Some(RecordKind::Activity))),
    f("repeat", Str),
    f(EXTERNAL_IDS_FIELD, Set),
    f(DEMO_FIELD, Bool),
];

const USER: &[FieldSpec] = &[
    req("name", Str),
    f("email", Email),
    f("role", Choice(USER_ROLES)),
    f("regions", Set),
    f("industries", Set),
    // A morning e-mail of the user's overdue tasks (`crm config digest on`), at `digest_at`
    // (HH:MM) in the user's time zone `tz` (IANA).
    f("digest", Bool),
    f("digest_at", Str),
    f("tz", Str),
];

const PRODUCT: &[FieldSpec] = &[
    req("sku", Str),
    req("name", Str),
    f("description", Str),
    f("unit", Str),
    f("divisible", Bool),
    f("tax", Int { min: 0, max: 100 }),
    f("price", Money),
    f("currency", Currency),
    f("active", Bool),
    // A bundle's contents, `SKU:QTY,...`; the bundle sells at its own `price`.
    f("bundle", Str),
    // Configuration rules: at least one of `requires`, none of `excludes`, quantity limits.
    f("requires", Set),
    f("excludes", Set),
    f(
        "min_qty",
        Int {
            min: 0,
            max: 1_000_000_000,
        },
    ),
    f(
        "max_qty",
        Int {
            min: 0,
            max: 1_000_000_000,
        },
    ),
];

const QUOTE: &[FieldSpec] = &[
    req("number", Str),
    req("case", Ref(Some(RecordKind::Case))),
    req("status", Choice(QUOTE_STATUSES)),
    f(
        "revision",
        Int {
            min: 1,
            max: 1_000_000,
        },
    ),
    f("previous", Ref(Some(RecordKind::Quote))),
    f("currency", Currency),
    f("quote_date", Date),
    f("valid_until", Date),
    f("approved_by", Str),
    f(
        "approved_discount",
        Int {
            min: 0,
            max: 10_000,
        },
    ),
    // When it was sent and closed (accepted, rejected or superseded), in ms, and what it
    // showed when sent: net and total (with tax), and the discounts given.
    f(
        "sent_at",
        Int {
            min: 0,
            max: i64::MAX,
        },
    ),
    f(
        "closed_at",
        Int {
            min: 0,
            max: i64::MAX,
        },
    ),
    f("net", Money),
    f("total", Money),
    f("discount_total", Money),
    // The price list its lines are priced from, and why it was chosen.
    f("price_list", Ref(Some(RecordKind::PriceList))),
    f("price_list_reason", Str),
    f("notes", Text),
];

const QUOTE_LINE: &[FieldSpec] = &[
    req("quote", Ref(Some(RecordKind::Quote))),
    req("product", Ref(Some(RecordKind::Product))),
    // Thousandths of the product's unit (whole units unless the product is divisible).
    f("quantity", Quantity),
    // Whole units, as lines made before `quantity` hold it.
    f(
        "qty",
        Int {
            min: 1,
            max: 1_000_000_000,
        },
    ),
    // Basis points (1 % = 100).
    f(
        "discount",
        Int {
            min: 0,
            max: 10_000,
        },
    ),
    f("price", Money),
    f("currency", Currency),
];

const PRICE_LIST: &[FieldSpec] = &[
    req("name", Str),
    req("currency", Currency),
    f("region", Str),
    // The organizations' kind it is for.
    f("customer_kind", Choice(ORG_KINDS)),
    f("valid_from", Date),
    f("valid_until", Date),
    // Basis points off the products' list prices (1 % = 100).
    f(
        "percent_off",
        Int {
            min: 0,
            max: 10_000,
        },
    ),
    // Product id -> its price on this list, in minor units (as text).
    f(
        "prices",
        Links {
            target: RecordKind::Product,
            roles: None,
        },
    ),
    f("notes", Text),
];

/// The ids a record has in other address books and calendars (a vCard's or an iCalendar UID),
/// so importing the same file again finds it (`crm import`).
pub const EXTERNAL_IDS_FIELD: &str = "external_ids";

/// The field that marks a record as sample data (`crm demo-data`), so it can be told apart from
/// real work and removed; organizations, contacts, cases and activities have it.
pub const DEMO_FIELD: &str = "demo";

/// The fields of a kind of record, in display order.
pub fn fields(kind: RecordKind) -> &'static [FieldSpec] {
    match kind {
        RecordKind::Organization => ORGANIZATION,
        RecordKind::Contact => CONTACT,
        RecordKind::Relationship => RELATIONSHIP,
        RecordKind::Case => CASE,
        RecordKind::Activity => ACTIVITY,
        RecordKind::User => USER,
        // Settings are free-form scalar keys: see `schema::settings`.
        RecordKind::Settings => &[],
        // Schedules and send logs are scalar keys too: see `schema::mailing`.
        RecordKind::Schedule | RecordKind::SendLog => &[],
        RecordKind::Product => PRODUCT,
        RecordKind::Quote => QUOTE,
        RecordKind::QuoteLine => QUOTE_LINE,
        RecordKind::PriceList => PRICE_LIST,
    }
}

/// The field of `kind` called `name`.
pub fn field(kind: RecordKind, name: &str) -> Option<&'static FieldSpec> {
    fields(kind).iter().find(|f| f.name == name)
}
