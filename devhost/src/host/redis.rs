//! `fermyon:spin/redis@2.0.0`: outbound Redis. The address must be allowed by
//! the component's `allowed_outbound_hosts` (`redis://host:port`), as in Spin.

use anyhow::Result;
use redis::AsyncCommands;
use wasmtime::component::Resource;

use super::InstanceState;
use crate::bindings::spin::fermyon::spin2_0_0::redis::{Error, Host, HostConnection, RedisParameter, RedisResult};

pub struct RedisHandle {
    conn: redis::aio::ConnectionManager,
}

fn other(e: redis::RedisError) -> Error {
    if e.kind() == redis::ErrorKind::TypeError {
        Error::TypeError
    } else {
        Error::Other(e.to_string())
    }
}

impl RedisHandle {
    fn conn(&self) -> redis::aio::ConnectionManager {
        self.conn.clone()
    }
}

fn flatten(value: redis::Value, out: &mut Vec<RedisResult>) {
    match value {
        redis::Value::Nil => out.push(RedisResult::Nil),
        redis::Value::Int(i) => out.push(RedisResult::Int64(i)),
        redis::Value::BulkString(b) => out.push(RedisResult::Binary(b)),
        redis::Value::SimpleString(s) => out.push(RedisResult::Status(s)),
        redis::Value::Okay => out.push(RedisResult::Status("OK".into())),
        redis::Value::Array(items) | redis::Value::Set(items) | redis::Value::Push { data: items, .. } => {
            for item in items {
                flatten(item, out);
            }
        }
        redis::Value::Map(pairs) => {
            for (k, v) in pairs {
                flatten(k, out);
                flatten(v, out);
            }
        }
        redis::Value::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        redis::Value::Boolean(b) => out.push(RedisResult::Int64(i64::from(b))),
        redis::Value::VerbatimString { text, .. } => out.push(RedisResult::Binary(text.into_bytes())),
        redis::Value::BigNumber(n) => out.push(RedisResult::Binary(n.to_string().into_bytes())),
        redis::Value::Attribute { data, .. } => flatten(*data, out),
        redis::Value::ServerError(e) => out.push(RedisResult::Status(format!("{e:?}"))),
    }
}

impl Host for InstanceState {}

impl HostConnection for InstanceState {
    async fn open(&mut self, address: String) -> Result<Result<Resource<RedisHandle>, Error>> {
        if !self.component.allowed_hosts.allows_url(&address) {
            crate::log::info(format_args!(
                "component '{}' may not connect to redis at {} (not in allowed_outbound_hosts)",
                self.component.id,
                crate::host::redact_url(&address)
            ));
            return Ok(Err(Error::InvalidAddress));
        }
        match self.stores.redis_connection(&address).await {
            Ok(conn) => Ok(Ok(self.table.push(RedisHandle { conn })?)),
            Err(e) => Ok(Err(Error::Other(format!("{e:#}")))),
        }
    }

    async fn publish(
        &mut self,
        c: Resource<RedisHandle>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<Result<(), Error>> {
        let mut conn = self.table.get(&c)?.conn();
        Ok(conn
            .publish::<_, _, i64>(channel, payload)
            .await
            .map(drop)
            .map_err(other))
    }

    async fn get(&mut self, c: Resource<RedisHandle>, key: String) -> Result<Result<Option<Vec<u8>>, Error>> {
        let mut conn = self.table.get(&c)?.conn();
        Ok(conn.get(key).await.map_err(other))
    }

    async fn set(&mut self, c: Resource<RedisHandle>, key: String, value: Vec<u8>) -> Result<Result<(), Error>> {
        let mut conn = self.table.get(&c)?.conn();
        Ok(conn.set(key, value).await.map_err(other))
    }

    async fn incr(&mut self, c: Resource<RedisHandle>, key: String) -> Result<Result<i64, Error>> {
        let mut conn = self.table.get(&c)?.conn();
        Ok(conn.incr(key, 1).await.map_err(other))
    }

    async fn del(&mut self, c: Resource<RedisHandle>, keys: Vec<String>) -> Result<Result<u32, Error>> {
        let mut conn = self.table.get(&c)?.conn();
        Ok(conn.del(keys).await.map_err(other))
    }

    async fn sadd(&mut self, c: Resource<RedisHandle>, key: String, values: Vec<String>) -> Result<Result<u32, Error>> {
        let mut conn = self.table.get(&c)?.conn();
        Ok(conn.sadd(key, values).await.map_err(other))
    }

    async fn smembers(&mut self, c: Resource<RedisHandle>, key: String) -> Result<Result<Vec<String>, Error>> {
        let mut conn = self.table.get(&c)?.conn();
        Ok(conn.smembers(key).await.map_err(other))
    }

    async fn srem(&mut self, c: Resource<RedisHandle>, key: String, values: Vec<String>) -> Result<Result<u32, Error>> {
        let mut conn = self.table.get(&c)?.conn();
        Ok(conn.srem(key, values).await.map_err(other))
    }

    async fn execute(
        &mut self,
        c: Resource<RedisHandle>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> Result<Result<Vec<RedisResult>, Error>> {
        let mut conn = self.table.get(&c)?.conn();
        let mut cmd = redis::cmd(&command);
        for arg in arguments {
            match arg {
                RedisParameter::Int64(i) => cmd.arg(i),
                RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let value: Result<redis::Value, _> = cmd.query_async(&mut conn).await;
        Ok(value.map_err(other).map(|v| {
            let mut out = Vec::new();
            flatten(v, &mut out);
            out
        }))
    }

    async fn drop(&mut self, c: Resource<RedisHandle>) -> Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}
