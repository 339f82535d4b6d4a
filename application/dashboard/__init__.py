"""What the dashboards show: a tenant's activity, and the platform's usage per tenant."""
