"""Operations view of the domain-event stream (the bus itself is kernel plumbing: `kernel.bus`, `kernel.relay`)."""
