//! `?page=1&limit=20` (page ≥ 1, limit 1–100) and the list shape
//! `{"data":[…],"pagination":{"page","limit","total","totalPages"}}`.

use serde::Serialize;

use crate::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
/// Beyond any list we keep; bounds the offset a query may ask for.
pub const MAX_PAGE: u32 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Page {
    page: u32,
    limit: u32,
}

impl Page {
    pub fn parse(page: Option<&str>, limit: Option<&str>) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let page = match page {
            None => 1,
            Some(p) => match p.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    errors.push(crate::FieldError::new(
                        "page",
                        format!("must be a whole number from 1 to {MAX_PAGE}"),
                    ));
                    1
                }
            },
        };
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.push(crate::FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    ));
                    DEFAULT_LIMIT
                }
            },
        };
        if errors.is_empty() {
            Ok(Page { page, limit })
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    pub fn page(&self) -> u32 {
        self.page
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Rows to skip, for `LIMIT ? OFFSET ?`.
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: u32,
    pub limit: u32,
    pub total: u64,
    pub total_pages: u64,
}

#[derive(Debug, Serialize)]
pub struct Paginated<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

impl<T> Paginated<T> {
    pub fn new(data: Vec<T>, page: Page, total: u64) -> Self {
        let total_pages = total.div_ceil(u64::from(page.limit));
        Paginated {
            data,
            pagination: Pagination {
                page: page.page,
                limit: page.limit,
                total,
                total_pages,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(Page::parse(None, None).unwrap(), Page { page: 1, limit: 20 });
        assert_eq!(Page::parse(Some("3"), Some("100")).unwrap().offset(), 200);
        for (p, l) in [
            (Some("0"), None),
            (Some("-1"), None),
            (Some("x"), None),
            (None, Some("0")),
            (None, Some("101")),
            (None, Some("2.5")),
        ] {
            let err = Page::parse(p, l).unwrap_err();
            assert_eq!(err.status(), 400, "{p:?} {l:?}");
        }
    }

    #[test]
    fn total_pages_round_up() {
        let page = Page::parse(Some("1"), Some("20")).unwrap();
        assert_eq!(Paginated::<u8>::new(vec![], page, 57).pagination.total_pages, 3);
        assert_eq!(Paginated::<u8>::new(vec![], page, 0).pagination.total_pages, 0);
        assert_eq!(Paginated::<u8>::new(vec![], page, 40).pagination.total_pages, 2);
    }
}
