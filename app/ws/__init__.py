"""GraphQL over websockets (graphql-transport-ws only), with multiplexed subscriptions."""
