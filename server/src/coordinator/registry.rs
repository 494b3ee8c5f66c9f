//! Who is connected: open connections, registered clients, and the built-in
//! data partition each client was given. Owned by the coordinator task; no
//! locking.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use starling_proto::{Capabilities, ServerMessage, encode_server};
use tokio::sync::mpsc;

use crate::link::{ConnectionId, Outbound};

/// Longest accepted client id.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// One open connection.
#[derive(Debug)]
struct Connection {
    outbound: mpsc::Sender<Outbound>,
    /// Set once the connection registered, cleared if another connection
    /// takes over the id.
    client_id: Option<String>,
}

/// A client known to this run. Entries outlive connections so that a
/// client that reconnects keeps its data partition.
#[derive(Debug)]
pub struct ClientEntry {
    /// Current connection, `None` while disconnected.
    pub connection: Option<ConnectionId>,
    /// What the client reported at its last registration.
    pub capabilities: Capabilities,
    /// Examples the client reported at its last registration.
    pub num_examples: u64,
    /// Built-in partition index, once assigned.
    pub partition: Option<u32>,
    /// With downlink compression: the model version the client was last
    /// sent. Cleared at every registration, since a new process holds no
    /// model.
    pub model_version: Option<u32>,
}

/// Outcome of a registration.
#[derive(Debug, PartialEq)]
pub enum Registered {
    /// A new id, or one whose previous connection had closed.
    Fresh,
    /// The id was live on another connection, which is now closed.
    Replaced(ConnectionId),
}

/// Connection and client tables.
#[derive(Debug, Default)]
pub struct Registry {
    connections: HashMap<ConnectionId, Connection>,
    clients: BTreeMap<String, ClientEntry>,
    next_partition: u32,
}

impl Registry {
    pub fn open(&mut self, connection: ConnectionId, outbound: mpsc::Sender<Outbound>) {
        self.connections.insert(
            connection,
            Connection {
                outbound,
                client_id: None,
            },
        );
    }

    /// Forgets a connection; returns the client it carried, if that client
    /// has no newer connection.
    pub fn close(&mut self, connection: ConnectionId) -> Option<String> {
        let client_id = self.connections.remove(&connection)?.client_id?;
        let entry = self.clients.get_mut(&client_id)?;
        if entry.connection == Some(connection) {
            entry.connection = None;
            return Some(client_id);
        }
        None
    }

    /// Returns the client registered on `connection`.
    pub fn client_of(&self, connection: ConnectionId) -> Option<&str> {
        self.connections.get(&connection)?.client_id.as_deref()
    }

    /// True when the connection is open (registered or not).
    pub fn is_open(&self, connection: ConnectionId) -> bool {
        self.connections.contains_key(&connection)
    }

    /// Returns the entry of `client_id`, if it ever registered.
    pub fn client(&self, client_id: &str) -> Option<&ClientEntry> {
        self.clients.get(client_id)
    }

    /// Returns every client that ever registered, in id order.
    pub fn clients(&self) -> impl Iterator<Item = (&String, &ClientEntry)> {
        self.clients.iter()
    }

    /// Ids of clients with a live connection, sorted.
    pub fn connected_ids(&self) -> Vec<String> {
        self.clients
            .iter()
            .filter(|(_, entry)| entry.connection.is_some())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Number of clients with a live connection.
    pub fn connected_count(&self) -> usize {
        self.clients
            .values()
            .filter(|entry| entry.connection.is_some())
            .count()
    }

    /// Registers `client_id` on `connection`, replacing an older live
    /// connection with the same id.
    /// Records the model version sent to `client_id`.
    pub fn set_model_version(&mut self, client_id: &str, version: u32) {
        if let Some(entry) = self.clients.get_mut(client_id) {
            entry.model_version = Some(version);
        }
    }

    /// Registers `client_id` on `connection`.
    pub fn register(
        &mut self,
        connection: ConnectionId,
        client_id: &str,
        capabilities: Capabilities,
        num_examples: u64,
    ) -> Registered {
        let mut outcome = Registered::Fresh;
        let entry = self
            .clients
            .entry(client_id.to_owned())
            .or_insert_with(|| ClientEntry {
                connection: None,
                capabilities: Capabilities::default(),
                num_examples: 0,
                partition: None,
                model_version: None,
            });
        if let Some(old) = entry.connection.replace(connection)
            && old != connection
        {
            outcome = Registered::Replaced(old);
            if let Some(old_connection) = self.connections.get_mut(&old) {
                old_connection.client_id = None;
            }
        }
        entry.capabilities = capabilities;
        entry.num_examples = num_examples;
        entry.model_version = None;
        if let Some(conn) = self.connections.get_mut(&connection) {
            conn.client_id = Some(client_id.to_owned());
        }
        outcome
    }

    /// Returns the client's partition index, assigning the next one (round
    /// robin over `partitions`) on first use.
    pub fn assign_partition(&mut self, client_id: &str, partitions: u32) -> Option<u32> {
        let next = &mut self.next_partition;
        let entry = self.clients.get_mut(client_id)?;
        if entry.partition.is_none() {
            entry.partition = Some(*next % partitions.max(1));
            *next += 1;
        }
        entry.partition
    }

    /// Queues a message for a connection. Returns the frame size, or `None`
    /// when the connection is gone or its queue is full (the peer is not
    /// reading); the coordinator never waits on a slow client.
    pub fn send(&self, connection: ConnectionId, message: &ServerMessage) -> Option<usize> {
        let frame = match encode_server(message) {
            Ok(frame) => Bytes::from(frame),
            Err(err) => {
                tracing::error!(connection, error = %err, "failed to encode server message");
                return None;
            }
        };
        self.send_frame(connection, frame)
    }

    /// Queues an encoded frame; see [`Registry::send`].
    pub fn send_frame(&self, connection: ConnectionId, frame: Bytes) -> Option<usize> {
        let conn = self.connections.get(&connection)?;
        let size = frame.len();
        match conn.outbound.try_send(Outbound::Frame(frame)) {
            Ok(()) => Some(size),
            Err(err) => {
                tracing::warn!(connection, error = %err, "dropped frame for a connection that is not reading");
                None
            }
        }
    }

    /// Asks the transport to close a connection.
    pub fn close_connection(&self, connection: ConnectionId) {
        if let Some(conn) = self.connections.get(&connection) {
            let _ = conn.outbound.try_send(Outbound::Close);
        }
    }

    /// Returns the ids of all open connections.
    pub fn connection_ids(&self) -> Vec<ConnectionId> {
        self.connections.keys().copied().collect()
    }
}

/// Checks a client id: 1 to 64 characters from `[A-Za-z0-9._:-]`.
pub fn validate_client_id(client_id: &str) -> Result<(), String> {
    if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
        return Err(format!(
            "client id must be 1 to {MAX_CLIENT_ID_LEN} characters, got {}",
            client_id.len()
        ));
    }
    if let Some(bad) = client_id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
    {
        return Err(format!(
            "client id {client_id:?} contains {bad:?}; use letters, digits, '.', '_', ':' or '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry_with(connections: &[ConnectionId]) -> Registry {
        let mut registry = Registry::default();
        for &c in connections {
            registry.open(c, mpsc::channel(4).0);
        }
        registry
    }

    #[test]
    fn second_connection_replaces_first() {
        let mut registry = registry_with(&[1, 2]);
        assert_eq!(
            registry.register(1, "a", Capabilities::default(), 5),
            Registered::Fresh
        );
        assert_eq!(
            registry.register(2, "a", Capabilities::default(), 5),
            Registered::Replaced(1)
        );
        assert_eq!(registry.client_of(1), None);
        assert_eq!(registry.client_of(2), Some("a"));
        // Closing the replaced connection does not disconnect the client.
        assert_eq!(registry.close(1), None);
        assert_eq!(registry.connected_ids(), vec!["a".to_owned()]);
        assert_eq!(registry.close(2), Some("a".to_owned()));
        assert_eq!(registry.connected_count(), 0);
    }

    #[test]
    fn partition_survives_reconnect() {
        let mut registry = registry_with(&[1, 2, 3]);
        registry.register(1, "a", Capabilities::default(), 0);
        registry.register(2, "b", Capabilities::default(), 0);
        assert_eq!(registry.assign_partition("a", 4), Some(0));
        assert_eq!(registry.assign_partition("b", 4), Some(1));
        registry.close(1);
        registry.register(3, "a", Capabilities::default(), 0);
        assert_eq!(registry.assign_partition("a", 4), Some(0));
    }

    #[test]
    fn client_ids_are_checked() {
        assert!(validate_client_id("edge-1").is_ok());
        assert!(validate_client_id("").is_err());
        assert!(validate_client_id("a b").is_err());
        assert!(validate_client_id(&"x".repeat(65)).is_err());
    }
}
