//! The operator's own IAM policy for the installer's choices: the partition, the
//! permissions boundary the roles it makes carry, and whether it makes roles at all.
//!
//! `deploy/iam-policy.json` and `deploy/iam-policy-no-roles.json` are the templates
//! (partition `aws`, [`DEFAULT_BOUNDARY`]); `privateapi iam-policy` prints them for
//! other choices. IAM has no `${AWS::Partition}` variable, hence a rendering step.

pub const WITH_ROLES: &str = include_str!("../deploy/iam-policy.json");
pub const NO_ROLES: &str = include_str!("../deploy/iam-policy-no-roles.json");

/// The boundary the templates require, when the installer names none.
pub const DEFAULT_BOUNDARY: &str = "arn:aws:iam::*:policy/privateapi-role-boundary";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Partition {
    #[default]
    Aws,
    AwsCn,
    AwsUsGov,
}

impl Partition {
    pub fn name(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }
}

/// What the installer chose; the same flags configure the operator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Choices {
    pub partition: Partition,
    /// The managed policy ARN the roles carry (`--role-permissions-boundary`).
    pub boundary: Option<String>,
    /// `--no-role-creation`: the policy without IAM writes.
    pub no_role_creation: bool,
}

/// The policy document for `choices`, as pretty JSON. The boundary must be a managed
/// policy of the same partition.
pub fn render(choices: &Choices) -> Result<String, String> {
    let partition = choices.partition.name();
    let boundary = match &choices.boundary {
        Some(arn) => {
            let prefix = format!("arn:{partition}:iam::");
            if !arn.starts_with(&prefix) || !arn.contains(":policy/") {
                return Err(format!(
                    "--role-permissions-boundary {arn:?} is not an IAM managed policy ARN of partition {partition} ({prefix}ACCOUNT:policy/NAME)"
                ));
            }
            arn.clone()
        }
        None => DEFAULT_BOUNDARY.replacen("arn:aws:", &format!("arn:{partition}:"), 1),
    };
    let template = if choices.no_role_creation { NO_ROLES } else { WITH_ROLES };
    // Every ARN in the templates starts "arn:aws:"; the boundary is swapped after,
    // so a boundary the installer gave is never rewritten.
    let rendered = template.replace("\"arn:aws:", &format!("\"arn:{partition}:")).replace(
        &format!(
            "\"{}\"",
            DEFAULT_BOUNDARY.replacen("arn:aws:", &format!("arn:{partition}:"), 1)
        ),
        &serde_json::to_string(&boundary).map_err(|e| e.to_string())?,
    );
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_and_boundary_are_swapped_everywhere() {
        let boundary = "arn:aws-cn:iam::123456789012:policy/tasks-boundary";
        let text = render(&Choices {
            partition: Partition::AwsCn,
            boundary: Some(boundary.into()),
            no_role_creation: false,
        })
        .expect("renders");
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert!(!text.contains("\"arn:aws:"), "an ARN kept partition aws");
        assert!(text.contains(boundary));
        assert!(!text.contains("privateapi-role-boundary"));
        assert_eq!(value["Version"], "2012-10-17");
    }

    #[test]
    fn a_boundary_of_another_partition_or_kind_is_refused() {
        let choose = |arn: &str| Choices {
            partition: Partition::Aws,
            boundary: Some(arn.into()),
            no_role_creation: false,
        };
        assert!(render(&choose("arn:aws-cn:iam::1:policy/b")).is_err());
        assert!(render(&choose("arn:aws:iam::1:role/b")).is_err());
        assert!(render(&choose("arn:aws:iam::1:policy/b")).is_ok());
    }

    #[test]
    fn without_roles_there_is_no_iam_write() {
        let text = render(&Choices {
            no_role_creation: true,
            ..Choices::default()
        })
        .expect("renders");
        for write in [
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
            "iam:TagRole",
            "iam:DeleteRole\"",
        ] {
            assert!(!text.contains(write), "{write} in the no-roles policy");
        }
    }
}
