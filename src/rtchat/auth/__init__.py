"""The site's own tokens (JWTs), as `SiteTokens` checks them."""
