//! A campaign's segment, as typed: `grade:A,B stage:proposal region:north owner:ana`. Grade and
//! stage select the contacts of live cases of those grades and stages (a case's region is its
//! own, else its organization's); without them, region and owner are the contact's.

use crate::store::Store;
use anyhow::Result;
use crm_shared::Stage;
use rusqlite::types::Value;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Segment {
    grades: Vec<String>,
    stages: Vec<String>,
    regions: Vec<String>,
    owners: Vec<String>,
}

impl Segment {
    pub fn parse(text: &str) -> Result<Segment> {
        let mut s = Segment::default();
        for word in text.split_whitespace() {
            let Some((key, values)) = word.split_once(':') else {
                anyhow::bail!("`{word}` is not a filter: write KEY:VALUE[,VALUE], e.g. grade:A,B stage:proposal region:north");
            };
            let values: Vec<String> = values
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
                .collect();
            if values.is_empty() {
                anyhow::bail!("`{word}` gives no value after `{key}:`");
            }
            match key {
                "grade" => {
                    for g in &values {
                        if !crm_shared::model::GRADES.contains(&g.to_uppercase().as_str()) {
                            anyhow::bail!("`{g}` is not a grade: use A, B or C");
                        }
                    }
                    s.grades.extend(values.iter().map(|g| g.to_uppercase()));
                }
                "stage" => {
                    for v in &values {
                        let stage: Stage = v.parse()?;
                        s.stages.push(stage.key().to_string());
                    }
                }
                "region" => s.regions.extend(values),
                "owner" => s.owners.extend(values),
                other => anyhow::bail!(
                    "`{other}` is not a filter of a segment: use grade, stage, region or owner"
                ),
            }
        }
        if s == Segment::default() {
            anyhow::bail!("give the segment, e.g. --to \"grade:A,B stage:proposal region:north\"");
        }
        Ok(s)
    }

    /// The ids of the live contacts in the segment, by name.
    pub fn contacts(&self, store: &Store) -> Result<Vec<String>> {
        let mut sql = String::new();
        let mut params: Vec<Value> = Vec::new();
        let mut any_in = |sql: &mut String, column: &str, values: &[String]| {
            if values.is_empty() {
                return;
            }
            let marks: Vec<String> = values
                .iter()
                .map(|v| {
                    params.push(Value::Text(v.clone()));
                    format!("?{}", params.len())
                })
                .collect();
            sql.push_str(&format!(" AND {column} IN ({})", marks.join(",")));
        };
        if self.grades.is_empty() && self.stages.is_empty() {
            sql.push_str("SELECT c.id FROM rm_contacts c WHERE c.deleted = 0");
            any_in(&mut sql, "c.region", &self.regions);
        } else {
            sql.push_str(
                "SELECT DISTINCT c.id FROM rm_contacts c
                 JOIN rm_case_contacts cc ON cc.contact_id = c.id
                 JOIN rm_cases k ON k.id = cc.case_id AND k.deleted = 0
                 LEFT JOIN rm_orgs o ON o.id = k.org_id
                 WHERE c.deleted = 0",
            );
            any_in(&mut sql, "k.grade", &self.grades);
            any_in(&mut sql, "k.stage", &self.stages);
            any_in(
                &mut sql,
                "coalesce(nullif(k.region, ''), o.region)",
                &self.regions,
            );
        }
        any_in(&mut sql, "c.owner", &self.owners);
        sql.push_str(" ORDER BY c.name COLLATE NOCASE, c.id");
        let mut stmt = store.conn().prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
