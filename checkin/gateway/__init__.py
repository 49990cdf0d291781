"""The aiohttp gateway: scan API, coordinator API, and the kiosk and dashboard pages."""
