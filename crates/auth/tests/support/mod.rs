pub(crate) mod dns_server;
