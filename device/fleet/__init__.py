"""The box's side of the fleet link: durable outbox, reports, health, MQTT link, updates."""
