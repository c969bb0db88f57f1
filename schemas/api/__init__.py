"""Bodies of the application API (`/api/v1`): queries, request bodies and the documents it
answers with, described here so the OpenAPI document comes from the schemas the code uses."""
