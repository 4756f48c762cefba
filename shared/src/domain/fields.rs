use crate::error::{AppError, FieldError};

/// Collects field-level problems so that a client learns about all of them at once.
#[derive(Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    /// A field that must be present and pass `parse`.
    pub fn required<T, E: ToString>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match value {
            None => {
                self.add(field, "is required");
                None
            }
            Some(raw) => self.check(field, parse(raw)),
        }
    }

    /// A field that may be absent; when present it must pass `parse`.
    pub fn optional<T, E: ToString>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        value.and_then(|raw| self.check(field, parse(raw)))
    }

    pub fn check<T, E: ToString>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message.to_string());
                None
            }
        }
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok` when nothing was wrong, else the 400 with every detail.
    pub fn finish(self) -> Result<(), AppError> {
        self.finish_with(Some(()))
    }

    /// The values of the required fields when nothing was wrong, else the 400 with
    /// every detail: `let (email, password) = fields.finish_with((email, password))?`.
    pub fn finish_with<V: Present>(self, values: V) -> Result<V::Value, AppError> {
        match values.present() {
            Some(values) if self.errors.is_empty() => Ok(values),
            // A value is missing only where its field recorded why (`required`, `check`).
            _ => Err(AppError::Validation(self.errors)),
        }
    }
}

/// What `Fields::finish_with` takes: a checked value, or a tuple of them.
pub trait Present {
    type Value;
    fn present(self) -> Option<Self::Value>;
}

impl<T> Present for Option<T> {
    type Value = T;
    fn present(self) -> Option<T> {
        self
    }
}

macro_rules! present_tuple {
    ($($name:ident),+) => {
        impl<$($name: Present),+> Present for ($($name,)+) {
            type Value = ($($name::Value,)+);
            #[allow(non_snake_case)]
            fn present(self) -> Option<Self::Value> {
                let ($($name,)+) = self;
                Some(($($name.present()?,)+))
            }
        }
    };
}

present_tuple!(A, B);
present_tuple!(A, B, C);

/// A present, non-blank string of at most `max` characters.
pub fn non_empty(max: usize) -> impl Fn(&str) -> Result<String, String> {
    move |value| {
        if value.trim().is_empty() {
            Err("must not be empty".into())
        } else if value.chars().count() > max {
            Err(format!("must be at most {max} characters"))
        } else {
            Ok(value.to_owned())
        }
    }
}
