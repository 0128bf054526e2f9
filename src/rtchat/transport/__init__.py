"""The edge: Socket.IO handlers, HTTP routes and the payload codec. Thin by design."""
