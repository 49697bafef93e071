"""Guard patrols on site: routes from config, tours kept on the site timeline."""
