//! `fermyon:spin/variables@2.0.0`: a component reads only the variables its
//! `[component.<id>.variables]` table declares, rendered at start-up.

use anyhow::Result;

use super::InstanceState;
use crate::bindings::spin::fermyon::spin2_0_0::variables::{Error, Host};

impl Host for InstanceState {
    async fn get(&mut self, name: String) -> Result<Result<String, Error>> {
        if crate::manifest::check_variable_name(&name).is_err() {
            return Ok(Err(Error::InvalidName(format!("invalid variable name {name:?}"))));
        }
        Ok(self
            .component
            .variables
            .get(&name)
            .cloned()
            .ok_or_else(|| Error::Undefined(format!("no variable for {name:?}"))))
    }
}
