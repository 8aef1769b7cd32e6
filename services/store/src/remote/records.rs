//! Credentials, key/value, the queue and users over the store service.

use std::time::Duration;

use async_trait::async_trait;
use flowork_model::Timestamp;
use flowork_proto::v1 as pb;
use flowork_storage::{
    Credential, CredentialStore, Expect, Job, KvEntry, KvStore, NewCredential, NewUser, QueueStore,
    Result, User, UserStore,
};

use super::{Answer, RemoteStore, all, millis, reply};
use crate::convert::{from_proto as from, to_proto as to};

#[async_trait]
impl CredentialStore for RemoteStore {
    async fn create_credential(&self, new: NewCredential) -> Result<Credential> {
        let c = self
            .client()
            .create_credential(to::new_credential(new))
            .await
            .answer()?;
        reply(from::credential(c))
    }

    async fn get_credential(&self, name: &str) -> Result<Credential> {
        let req = pb::CredentialRef {
            name: name.to_owned(),
        };
        reply(from::credential(
            self.client().get_credential(req).await.answer()?,
        ))
    }

    async fn update_credential(&self, name: &str, sealed: Vec<u8>) -> Result<Credential> {
        let req = pb::UpdateCredentialRequest {
            name: name.to_owned(),
            sealed,
        };
        reply(from::credential(
            self.client().update_credential(req).await.answer()?,
        ))
    }

    async fn list_credentials(&self) -> Result<Vec<Credential>> {
        let list = self
            .client()
            .list_credentials(pb::Empty {})
            .await
            .answer()?;
        all(list.credentials, from::credential)
    }

    async fn delete_credential(&self, name: &str) -> Result<()> {
        let req = pb::CredentialRef {
            name: name.to_owned(),
        };
        self.client().delete_credential(req).await.answer()?;
        Ok(())
    }
}

#[async_trait]
impl KvStore for RemoteStore {
    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<KvEntry>> {
        let req = pb::KvKey {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
        };
        let entry = self.client().kv_get(req).await.answer()?.entry;
        reply(entry.map(from::kv_entry).transpose())
    }

    async fn kv_put(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        expect: Expect,
    ) -> Result<u64> {
        let req = pb::KvPutRequest {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            value,
            expect: to::expect(expect),
        };
        Ok(self.client().kv_put(req).await.answer()?.version)
    }

    async fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool> {
        let req = pb::KvKey {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
        };
        Ok(self.client().kv_delete(req).await.answer()?.existed)
    }

    async fn kv_list(&self, namespace: &str, prefix: &str) -> Result<Vec<KvEntry>> {
        let req = pb::KvListRequest {
            namespace: namespace.to_owned(),
            prefix: prefix.to_owned(),
        };
        all(
            self.client().kv_list(req).await.answer()?.entries,
            from::kv_entry,
        )
    }

    async fn kv_delete_before(
        &self,
        namespace: &str,
        before: Timestamp,
        limit: u32,
    ) -> Result<u64> {
        // As in delete_finished_before: what the service refuses matches nothing locally.
        if limit == 0 || before.millis() <= 0 {
            return Ok(0);
        }
        let req = pb::KvDeleteBeforeRequest {
            namespace: namespace.to_owned(),
            before: before.millis(),
            limit,
        };
        Ok(self.client().kv_delete_before(req).await.answer()?.count)
    }
}

#[async_trait]
impl QueueStore for RemoteStore {
    async fn enqueue(
        &self,
        queue: &str,
        payload: serde_json::Value,
        delay: Duration,
    ) -> Result<i64> {
        let req = pb::EnqueueRequest {
            queue: queue.to_owned(),
            payload: Some(to::json(&payload)),
            delay_ms: millis(delay),
        };
        Ok(self.client().enqueue(req).await.answer()?.id)
    }

    async fn enqueue_leased(
        &self,
        queue: &str,
        payload: serde_json::Value,
        worker: &str,
        lease: Duration,
    ) -> Result<Job> {
        let req = pb::EnqueueLeasedRequest {
            queue: queue.to_owned(),
            payload: Some(to::json(&payload)),
            worker: worker.to_owned(),
            lease_ms: millis(lease),
        };
        reply(from::job(self.client().enqueue_leased(req).await.answer()?))
    }

    async fn lease(&self, queue: &str, worker: &str, lease: Duration) -> Result<Option<Job>> {
        let req = pb::LeaseRequest {
            queue: queue.to_owned(),
            worker: worker.to_owned(),
            lease_ms: millis(lease),
        };
        reply(
            self.client()
                .lease(req)
                .await
                .answer()?
                .job
                .map(from::job)
                .transpose(),
        )
    }

    async fn ack(&self, job_id: i64, worker: &str) -> Result<()> {
        let req = pb::AckRequest {
            id: job_id,
            worker: worker.to_owned(),
        };
        self.client().ack(req).await.answer()?;
        Ok(())
    }

    async fn nack(&self, job_id: i64, worker: &str, delay: Duration) -> Result<()> {
        let req = pb::NackRequest {
            id: job_id,
            worker: worker.to_owned(),
            delay_ms: millis(delay),
        };
        self.client().nack(req).await.answer()?;
        Ok(())
    }

    async fn extend_lease(&self, job_id: i64, worker: &str, lease: Duration) -> Result<()> {
        let req = pb::ExtendLeaseRequest {
            id: job_id,
            worker: worker.to_owned(),
            lease_ms: millis(lease),
        };
        self.client().extend_lease(req).await.answer()?;
        Ok(())
    }

    async fn queue_len(&self, queue: &str) -> Result<u64> {
        let req = pb::QueueRef {
            queue: queue.to_owned(),
        };
        Ok(self.client().queue_len(req).await.answer()?.len)
    }
}

#[async_trait]
impl UserStore for RemoteStore {
    async fn create_user(&self, new: NewUser) -> Result<User> {
        reply(from::user(
            self.client()
                .create_user(to::new_user(new))
                .await
                .answer()?,
        ))
    }

    async fn get_user_by_name(&self, username: &str) -> Result<User> {
        let req = pb::UserRef {
            username: username.to_owned(),
        };
        reply(from::user(
            self.client().get_user_by_name(req).await.answer()?,
        ))
    }

    async fn count_users(&self) -> Result<u64> {
        Ok(self
            .client()
            .count_users(pb::Empty {})
            .await
            .answer()?
            .count)
    }
}
