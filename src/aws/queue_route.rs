//! Routes that send the request body straight to an SQS queue (`api.routes[].sqs`),
//! with a role API Gateway assumes that may only `sqs:SendMessage` to the queue.
//! REST APIs integrate through the SQS query API (an `AWS` integration with a
//! request template), HTTP APIs through the `SQS-SendMessage` integration subtype.

/// One route to a queue; `R` names the role API Gateway sends with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueRoute<R = String> {
    pub method: &'static str,
    /// `/orders`, `/orders/new`: fixed segments below the root.
    pub path: String,
    pub queue_arn: String,
    pub role: R,
}

impl<R> QueueRoute<R> {
    pub fn try_map<S>(&self, f: impl FnOnce(&R) -> Option<S>) -> Option<QueueRoute<S>> {
        Some(QueueRoute {
            method: self.method,
            path: self.path.clone(),
            queue_arn: self.queue_arn.clone(),
            role: f(&self.role)?,
        })
    }

    /// The HTTP API's route key, `POST /orders`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// An SQS queue as its ARN names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

impl<'a> Queue<'a> {
    /// `arn:{partition}:sqs:{region}:{account}:{name}`; `None` for anything else.
    pub fn parse(arn: &'a str) -> Option<Queue<'a>> {
        let mut fields = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("sqs"), Some(region), Some(account), Some(name)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return None;
        };
        Some(Queue {
            partition,
            region,
            account,
            name,
        })
    }

    /// The REST integration's URI: SQS's query API on the queue's path.
    pub fn rest_integration_uri(&self) -> String {
        format!(
            "arn:{}:apigateway:{}:sqs:path/{}/{}",
            self.partition, self.region, self.account, self.name
        )
    }

    /// The queue URL the HTTP API's SQS-SendMessage integration takes.
    pub fn url(&self) -> String {
        let suffix = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://sqs.{}.{suffix}/{}/{}", self.region, self.account, self.name)
    }
}

/// Every resource path the routes need, parents before children (`/a` before `/a/b`).
pub fn resource_paths<R>(routes: &[QueueRoute<R>]) -> Vec<String> {
    let mut paths = std::collections::BTreeSet::new();
    for route in routes {
        let mut path = String::new();
        for segment in route.path.split('/').filter(|s| !s.is_empty()) {
            path.push('/');
            path.push_str(segment);
            paths.insert(path.clone());
        }
    }
    let mut paths: Vec<String> = paths.into_iter().collect();
    paths.sort_by_key(|p| (p.matches('/').count(), p.clone()));
    paths
}

/// The parent of a resource path (`/` for a top-level one) and its last segment.
pub fn split_path(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", last)) => ("/", last),
        Some((parent, last)) => (parent, last),
        None => ("/", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_arn_gives_the_rest_uri_and_the_queue_url() {
        let q = Queue::parse("arn:aws:sqs:eu-west-1:123456789012:orders").expect("parses");
        assert_eq!(
            q.rest_integration_uri(),
            "arn:aws:apigateway:eu-west-1:sqs:path/123456789012/orders"
        );
        assert_eq!(q.url(), "https://sqs.eu-west-1.amazonaws.com/123456789012/orders");
        let cn = Queue::parse("arn:aws-cn:sqs:cn-north-1:123456789012:orders").expect("parses");
        assert_eq!(cn.url(), "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/orders");
        assert!(
            cn.rest_integration_uri()
                .starts_with("arn:aws-cn:apigateway:cn-north-1:sqs:")
        );
        assert_eq!(Queue::parse("arn:aws:sns:eu-west-1:123456789012:topic"), None);
    }

    #[test]
    fn nested_paths_need_their_parents_first() {
        let route = |path: &str| QueueRoute {
            method: "POST",
            path: path.into(),
            queue_arn: String::new(),
            role: (),
        };
        let routes = [route("/orders/new"), route("/b"), route("/orders")];
        assert_eq!(resource_paths(&routes), ["/b", "/orders", "/orders/new"]);
        assert_eq!(split_path("/orders"), ("/", "orders"));
        assert_eq!(split_path("/orders/new"), ("/orders", "new"));
    }
}
