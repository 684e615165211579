"""From one photo to the reference view and sampled views the model trains on."""
