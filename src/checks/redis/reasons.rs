//! The reason codes only `redis` checks end with: rows of the reason table (see
//! `src/model/reason.rs`), named in the kind's `REASONS`.

crate::model::reasons! {
    /// The `redis` kind's own reasons, in its `REASONS`.
    pub(super) const ROWS;
    RedisConnect = 500 => "redis.connect", Error, "The Redis server could not be reached",
        "The TCP connection or TLS handshake with Redis failed, or the server closed the connection.";
    RedisAuth = 510 => "redis.auth", Failure, "Redis rejected the credentials",
        "AUTH failed (wrong password or user), or the server requires a password that the URL does not give.";
    RedisError = 520 => "redis.error", Failure, "Redis answered a command with an error",
        "PING, ROLE or EXISTS returned an error reply (for example LOADING or MASTERDOWN).";
    RedisRole = 530 => "redis.role", Failure, "The Redis server has an unexpected replication role",
        "The server's ROLE is not the configured `role` (master or replica).";
    RedisKey = 540 => "redis.key", Failure, "An expected Redis key does not exist",
        "A key listed in `keys_exist` is missing from the selected database.";
    RedisLatency = 550 => "redis.latency", Failure, "Redis answered slowly",
        "The check took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    RedisExpect = 560 => "redis.expect", Failure, "A condition on the Redis server did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
}
